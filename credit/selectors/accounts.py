"""Reads of the registry, with visibility rules applied."""

from django.db.models import QuerySet

from credit.models import Membership, Subject


def active_memberships(*, user) -> QuerySet[Membership]:
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.filter(user=user, status=Membership.Status.ACTIVE).select_related("subject")


def subject_ids_acted_for(*, user) -> set[int]:
    return set(active_memberships(user=user).values_list("subject_id", flat=True))


def is_member(*, user, subject_id: int) -> bool:
    return active_memberships(user=user).filter(subject_id=subject_id).exists()


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
