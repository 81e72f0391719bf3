"""The blacklist's configurable periods and deadlines, and the checks every service here
starts with (a regulator acting, required text)."""

from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from core.errors import InvalidInput, NotAllowed, NotFound
from core.roles import is_regulator
from credit.models import BlacklistEntry
from credit.selectors.accounts import is_member

MAX_TEXT = 4000


def _config(name: str, default):
    return getattr(settings, "ENTREPOT", {}).get(name, default)


def publication_days(severity: str) -> int:
    return int(_config("BLACKLIST_PUBLICATION_DAYS", {"minor": 90, "general": 365, "serious": 1095})[severity])


def publication_min_days(severity: str) -> int:
    """The shortest publication period of a severity (PRODUCT.md: general 3 months to 1
    year, serious 1 to 3 years; a minor entry has no minimum)."""
    return int(_config("BLACKLIST_PUBLICATION_MIN_DAYS", {"minor": 1, "general": 90, "serious": 365})[severity])


def repair_after_days(severity: str) -> int:
    return int(_config("BLACKLIST_REPAIR_AFTER_DAYS", {"minor": 0, "general": 90, "serious": 365})[severity])


def reply_working_days(kind: str) -> int:
    """Working days for the regulator's reply to an appeal or repair application (`kind`
    is "appeal" or "repair"; settings APPEAL_/REPAIR_REPLY_WORKING_DAYS)."""
    return int(_config(f"{kind.upper()}_REPLY_WORKING_DAYS", 10))


def decision_working_days(kind: str) -> int:
    """Working days for the decision after the reply (APPEAL_/REPAIR_DECISION_WORKING_DAYS)."""
    return int(_config(f"{kind.upper()}_DECISION_WORKING_DAYS", 3))


def default_publication_end(*, severity: str, starts_on: date) -> date:
    """Exclusive end: the entry is published on the days before this date."""
    return starts_on + timedelta(days=publication_days(severity))


def earliest_repair_date(*, entry: BlacklistEntry) -> date:
    """The first day a repair may be applied for (minor entries: at once)."""
    return entry.starts_on + timedelta(days=repair_after_days(entry.severity))


def today() -> date:
    return timezone.localdate()


def require_regulator(actor) -> None:
    if not is_regulator(actor):
        raise NotAllowed("Only a regulator may do this.", code="regulator_only")


def require_member_of_entry(actor, entry: BlacklistEntry) -> None:
    if not is_member(user=actor, subject_id=entry.subject_id):
        # Not the subject's member: as if the entry did not exist for them.
        raise NotFound(f"No blacklist entry with id {entry.pk}.", code="entry_not_found")


def required_text(value, field: str, field_errors: dict, *, max_length: int = MAX_TEXT) -> str:
    text = (value or "").strip()
    if not text:
        field_errors.setdefault(field, []).append("This field is required.")
    elif len(text) > max_length:
        field_errors.setdefault(field, []).append(f"Use at most {max_length} characters.")
    return text


def checked_text(value, field: str, *, message: str, code: str, max_length: int = 8000) -> str:
    """One required text, or InvalidInput(message, code) naming the field."""
    field_errors: dict[str, list[str]] = {}
    text = required_text(value, field, field_errors, max_length=max_length)
    if field_errors:
        raise InvalidInput(message, code=code, field_errors=field_errors)
    return text
