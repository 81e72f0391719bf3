"""Reads of the registry, with visibility rules applied."""

from django.db.models import QuerySet

from credit import hotpath
from credit.models import Membership, Subject


def active_memberships(*, user) -> QuerySet[Membership]:
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).select_related("subject")


def subject_ids_acted_for(*, user) -> set[int]:
    return set(active_memberships(user=user).values_list("subject_id", flat=True))


def is_member(*, user, subject_id: int) -> bool:
    return active_memberships(user=user).filter(subject_id=subject_id).exists()


def acting_subject(*, user, subject_id: int | None, field: str) -> Subject:
    """The subject the user acts for: the one given (if the user is an active member of
    it), or their only one, with `has_active_blacklist_entry` set. One prepared query
    (credit.hotpath): every lease request asks."""
    from core import errors

    not_yours = errors.NotAllowed("You do not act for this subject.", field_errors={field: ["Not your subject."]})
    if not getattr(user, "is_authenticated", False) or user.pk is None:
        raise not_yours
    if subject_id is not None and not 0 < subject_id < 2**63:
        raise not_yours

    found = hotpath.acting_subject_rows(user_id=user.pk, subject_id=subject_id)
    if subject_id is not None and not found:
        raise not_yours
    if len(found) == 1:
        return found[0]
    raise errors.InvalidInput(
        "Say which subject you act for.",
        field_errors={field: ["Required: you act for several subjects." if found else "You act for no subject."]},
    )


def get_subject(*, subject_id: int) -> Subject:
    from credit.errors import SubjectNotFound

    try:
        return Subject.objects.get(pk=subject_id)
    except (Subject.DoesNotExist, ValueError, TypeError):
        raise SubjectNotFound(f"No subject with id {subject_id}.") from None


def find_subject_by_registration(*, country: str, registration_number: str) -> Subject | None:
    return Subject.objects.filter(
        country=country.upper(), registration_number=normalize_registration_number(registration_number)
    ).first()


def normalize_registration_number(value: str) -> str:
    return "".join(value.split()).upper()


def pending_memberships_for_owner(*, user) -> QuerySet[Membership]:
    managed = active_memberships(user=user).filter(role__in=[Membership.Role.OWNER, Membership.Role.ADMIN])
    return Membership.objects.filter(
        subject_id__in=managed.values("subject_id"), status=Membership.Status.PENDING
    ).select_related("user", "subject")
