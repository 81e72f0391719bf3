"""Accounts: sign-up (new subject -> owner, existing -> pending membership), approval,
sign in and out, and what the pages show when the input is wrong."""

import pytest
from django.contrib.auth import get_user_model

from core.errors import Conflict, InvalidInput, NotFound
from core.models import AuditEntry
from credit.models import Membership, Subject
from credit.services.accounts import approve_membership, sign_up
from tests.factories import PASSWORD, MembershipFactory, SubjectFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
STRONG = "a-long-Unusual-passphrase-42"


def signup_data(**overrides):
    data = {
        "username": "hafen",
        "email": "hafen@example.test",
        "password": STRONG,
        "country": "DE",
        "registration_number": "HRB 12345",
        "legal_name": "Hafen Handel GmbH",
        "kinds": ["merchant"],
    }
    data.update(overrides)
    return data


# --- the service ----------------------------------------------------------------------


def test_sign_up_for_a_new_subject_makes_the_user_its_owner():
    result = sign_up(**signup_data(kinds=["merchant", "warehouse_operator"]))
    assert result.created_subject
    subject = result.membership.subject
    assert (subject.country, subject.registration_number, subject.legal_name) == ("DE", "HRB12345", "Hafen Handel GmbH")
    assert subject.kinds == ["merchant", "warehouse_operator"]
    assert (result.membership.role, result.membership.status) == (Membership.Role.OWNER, Membership.Status.ACTIVE)
    assert result.user.check_password(STRONG)
    actions = set(AuditEntry.objects.filter(subject=subject).values_list("action", flat=True))
    assert actions == {"subject.registered", "membership.created"}


def test_sign_up_for_an_existing_subject_asks_to_join():
    owner = sign_up(**signup_data()).user
    result = sign_up(**signup_data(username="clerk", email="clerk@example.test", registration_number="hrb12345"))
    assert not result.created_subject
    assert Subject.objects.filter(country="DE", registration_number="HRB12345").count() == 1
    assert (result.membership.role, result.membership.status) == (Membership.Role.MEMBER, Membership.Status.PENDING)

    approved = approve_membership(actor=owner, membership_id=result.membership.pk)
    assert approved.status == Membership.Status.ACTIVE
    assert AuditEntry.objects.filter(action="membership.approved", target_id=str(approved.pk)).exists()
    # Approving twice is harmless.
    assert approve_membership(actor=owner, membership_id=result.membership.pk).status == Membership.Status.ACTIVE


def test_only_owners_and_admins_approve():
    sign_up(**signup_data())
    pending = sign_up(**signup_data(username="clerk", email="c@example.test")).membership
    stranger = MembershipFactory().user
    with pytest.raises(NotFound):
        approve_membership(actor=stranger, membership_id=pending.pk)
    pending.refresh_from_db()
    assert pending.status == Membership.Status.PENDING


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"country": "de "}, None),
        ({"registration_number": "!"}, "registration_number"),
        ({"registration_number": "-starts-with-hyphen"}, "registration_number"),
        ({"password": "password"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"kinds": []}, "kinds"),
        ({"kinds": ["pirate"]}, "kinds"),
    ],
)
def test_sign_up_rejects_bad_input_per_field(overrides, field):
    if field is None:  # surrounding spaces and lower case are fine
        assert sign_up(**signup_data(**overrides)).membership.subject.country == "DE"
        return
    with pytest.raises(InvalidInput) as excinfo:
        sign_up(**signup_data(**overrides))
    assert field in excinfo.value.field_errors
    assert not User.objects.filter(username="hafen").exists()


def test_duplicate_username_is_refused_whatever_the_case():
    sign_up(**signup_data())
    with pytest.raises(Conflict) as excinfo:
        sign_up(**signup_data(username="HAFEN", registration_number="HRB999"))
    assert "username" in excinfo.value.field_errors
    assert not Subject.objects.filter(registration_number="HRB999").exists()


# --- the pages ------------------------------------------------------------------------


def test_sign_up_page_creates_the_account_and_signs_in(client):
    assert client.get("/accounts/signup/").status_code == 200
    response = client.post("/accounts/signup/", signup_data(), follow=True)
    assert response.redirect_chain[-1][0] == "/account/"
    assert response.context["user"].username == "hafen"
    assert "Hafen Handel GmbH" in response.content.decode()
    assert "You act for Hafen Handel GmbH" in response.content.decode()


def test_joining_an_existing_subject_shows_it_awaits_approval(client):
    sign_up(**signup_data())
    response = client.post("/accounts/signup/", signup_data(username="clerk", email="clerk@example.test"), follow=True)
    page = response.content.decode()
    assert "its owners must approve your request" in page
    assert "awaiting approval" in page


def test_owner_approves_a_request_on_the_account_page(client):
    owner = sign_up(**signup_data()).user
    sign_up(**signup_data(username="clerk", email="clerk@example.test"))
    client.force_login(owner)
    page = client.get("/account/").content.decode()
    assert "Requests to join" in page and "clerk" in page
    pending = Membership.objects.get(user__username="clerk")
    response = client.post(f"/account/memberships/{pending.pk}/approve/", follow=True)
    assert "clerk now acts for Hafen Handel GmbH" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Membership.Status.ACTIVE


def test_someone_else_cannot_approve_by_posting(client):
    sign_up(**signup_data())
    sign_up(**signup_data(username="clerk", email="clerk@example.test"))
    pending = Membership.objects.get(user__username="clerk")
    client.force_login(UserFactory())
    response = client.post(f"/account/memberships/{pending.pk}/approve/", follow=True)
    assert "No such membership request" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Membership.Status.PENDING


def _field_errors(response, field):
    return response.context["form"].errors.get(field, [])


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"country": "XX"}, "country", "Select a valid choice"),
        ({"registration_number": "no spaces? ok; but !"}, "registration_number", "Use 2 to 40 letters"),
        ({"password": "password1"}, "password", "too common"),
        ({"password": "hafen123"}, "password", "too similar"),
        ({"email": "not-an-email"}, "email", "valid email"),
        ({"kinds": []}, "kinds", "required"),
    ],
)
def test_sign_up_page_shows_errors_beside_the_field(client, overrides, field, message):
    response = client.post("/accounts/signup/", signup_data(**overrides))
    assert response.status_code == 400
    assert any(message in error for error in _field_errors(response, field)), response.context["form"].errors
    page = response.content.decode()
    assert f'id="id_{field}-error"' in page or 'class="field-error"' in page
    assert 'value="hafen"' in page  # what was typed is kept
    assert not User.objects.filter(username="hafen").exists()


def test_sign_up_page_refuses_a_taken_username(client):
    UserFactory(username="hafen")
    response = client.post("/accounts/signup/", signup_data(username="Hafen"))
    assert response.status_code == 400
    assert "That user name is taken." in _field_errors(response, "username")


def test_sign_in_and_out(client):
    user = UserFactory()
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}, follow=True)
    assert response.context["user"].is_authenticated
    assert f'data-testid="signed-in-as"><bdi>{user.username}</bdi>' in response.content.decode()
    response = client.post("/accounts/logout/", follow=True)
    assert not response.context["user"].is_authenticated
    assert "Sign in" in response.content.decode()


def test_sign_in_with_a_wrong_password_says_so(client):
    user = UserFactory()
    response = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_account_page_needs_sign_in(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_account_page_lists_the_subjects_acted_for(client, member):
    other = SubjectFactory(legal_name="Not Mine Ltd")
    client.force_login(member)
    page = client.get("/account/").content.decode()
    assert member.subject.legal_name in page
    assert other.legal_name not in page
