"""Writes to the registry. Each service owns its transaction and writes its audit entry."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.audit import record_audit, save_audited
from core.countries import country_codes
from core.errors import Busy, Conflict, InvalidInput, NotFound
from credit.models import REGISTRATION_NUMBER_VALIDATOR, Membership, Subject
from credit.selectors.accounts import normalize_registration_number

User = get_user_model()

SUBJECT_KINDS = ("merchant", "warehouse_operator", "payment_institution", "logistics_provider")


@dataclass(frozen=True)
class SignUpResult:
    user: "User"
    membership: Membership
    created_subject: bool


def validate_registration(*, country: str, registration_number: str) -> tuple[str, str]:
    country = (country or "").strip().upper()
    number = normalize_registration_number(registration_number or "")
    field_errors = {}
    if country not in country_codes():
        field_errors["country"] = [f"'{country}' is not an ISO 3166-1 alpha-2 country code."]
    try:
        REGISTRATION_NUMBER_VALIDATOR(number)
    except ValidationError as exc:
        field_errors["registration_number"] = list(exc.messages)
    if field_errors:
        raise InvalidInput("The registration is not valid.", code="invalid_registration", field_errors=field_errors)
    return country, number


def sign_up(
    *,
    username: str,
    email: str,
    password: str,
    country: str,
    registration_number: str,
    legal_name: str,
    kinds: list[str],
) -> SignUpResult:
    """Create an account acting for a subject. A new subject makes the user its owner;
    an existing one gets a pending membership that its owners approve."""
    country, number = validate_registration(country=country, registration_number=registration_number)
    unknown = set(kinds) - set(SUBJECT_KINDS)
    if unknown or not kinds:
        raise InvalidInput(
            "Choose at least one kind of enterprise.",
            code="invalid_kinds",
            field_errors={"kinds": ["Choose at least one valid kind."]},
        )
    try:
        validate_password(password, User(username=username, email=email))
    except ValidationError as exc:
        raise InvalidInput(
            "The password is too weak.", code="weak_password", field_errors={"password": exc.messages}
        ) from None

    with transaction.atomic():
        if User.objects.filter(username__iexact=username).exists():
            raise Conflict(
                "That user name is taken.",
                code="username_taken",
                field_errors={"username": ["That user name is taken."]},
            )
        user = User.objects.create_user(username=username, email=email, password=password)
        subject = Subject.objects.select_for_update().filter(country=country, registration_number=number).first()
        created = subject is None
        if created:
            try:
                with transaction.atomic():
                    subject = Subject.objects.create(
                        country=country,
                        registration_number=number,
                        legal_name=legal_name.strip(),
                        **{f"is_{kind}": True for kind in kinds},
                    )
            except IntegrityError:
                raise Busy("Another sign-up for this subject is in progress; try again.") from None
            membership = Membership.objects.create(user=user, subject=subject, role=Membership.Role.OWNER)
            record_audit(
                actor=user,
                action="subject.registered",
                target=subject,
                subject_id=subject.pk,
                new={
                    "country": country,
                    "registration_number": number,
                    "legal_name": subject.legal_name,
                    "kinds": kinds,
                },
            )
        else:
            membership = Membership.objects.create(
                user=user, subject=subject, role=Membership.Role.MEMBER, status=Membership.Status.PENDING
            )
        record_audit(
            actor=user,
            action="membership.created",
            target=membership,
            subject_id=subject.pk,
            new={"user": user.username, "role": membership.role, "status": membership.status},
        )
    return SignUpResult(user=user, membership=membership, created_subject=created)


def approve_membership(*, actor, membership_id: int) -> Membership:
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(pk=membership_id).first()
        if membership is None:
            raise NotFound("No such membership request.")
        manages = Membership.objects.filter(
            user=actor,
            subject_id=membership.subject_id,
            status=Membership.Status.ACTIVE,
            role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
        ).exists()
        if not manages:
            raise NotFound("No such membership request.")
        if membership.status == Membership.Status.ACTIVE:
            return membership
        save_audited(
            membership,
            {"status": Membership.Status.ACTIVE},
            actor=actor,
            action="membership.approved",
            subject_id=membership.subject_id,
            old={"status": "pending"},
        )
    return membership
