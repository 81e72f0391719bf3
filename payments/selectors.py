from django.db.models import QuerySet

from credit.models import Membership, Subject
from credit.selectors.accounts import active_memberships
from payments.models import ProviderAPIKey


def institutions_managed_by(*, user) -> QuerySet[Subject]:
    """Payment institutions whose keys this user may manage (owners and admins)."""
    ids = (
        active_memberships(user=user)
        .filter(subject__is_payment_institution=True, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN])
        .values("subject_id")
    )
    return Subject.objects.filter(pk__in=ids)


def api_keys_visible_to(*, user) -> QuerySet[ProviderAPIKey]:
    return (
        ProviderAPIKey.objects.filter(institution__in=institutions_managed_by(user=user))
        .select_related("institution", "created_by")
        .order_by("-created")
    )
