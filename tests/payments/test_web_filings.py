"""The institution's pages that end a filing: a confirmation page, then the service; an
ended filing says so instead of offering the form again; other members are turned away."""

import pytest
from django.contrib.messages import get_messages

from core.models import AuditEntry
from credit.models import Membership
from payments.models import ReserveAccount
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def said(response) -> str:
    """The last message the response leaves (unread ones pile up across redirects)."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def test_withdrawing_a_licence_confirms_then_says_it_is_already_withdrawn(client, compliant_institution):
    p = compliant_institution
    licence = p.licences.get()
    client.force_login(p.manager)
    url = f"/institution/{p.pk}/licences/{licence.pk}/withdraw/"
    page = client.get(url)
    assert page.status_code == 200 and f"Withdraw licence {licence.number}" in page.content.decode()
    done = client.post(url, {"reason": "Surrendered"})
    assert done.status_code == 302 and done["Location"].endswith(f"/institution/{p.pk}/#licences")
    assert said(done) == "Licence withdrawn (kept for history); a compliance check has been requested."
    licence.refresh_from_db()
    assert licence.withdrawn_reason == "Surrendered"
    again = client.get(url)
    assert again.status_code == 302
    assert said(again) == f"Licence {licence.number} was already withdrawn on {licence.withdrawn_at:%Y-%m-%d}."


def test_switching_off_a_corridor_and_closing_an_account_that_no_report_named(client, compliant_institution):
    p = compliant_institution
    corridor = p.corridors.get()
    client.force_login(p.manager)
    done = client.post(f"/institution/{p.pk}/corridors/{corridor.pk}/withdraw/", {"reason": ""})
    assert said(done) == "Corridor switched off; request it again to have it checked anew."
    corridor.refresh_from_db()
    assert corridor.withdrawn_at is not None and not corridor.enabled

    unused = ReserveAccount.objects.create(institution=p, bank="ICBC", account_reference="RES-2", currency="CNY")
    removed = client.post(f"/institution/{p.pk}/reserve-accounts/{unused.pk}/close/", {"reason": "Moved"})
    assert said(removed) == "Reserve account removed (no report named it). A compliance check has been requested."
    assert not ReserveAccount.objects.filter(pk=unused.pk).exists()
    kept = client.post(f"/institution/{p.pk}/reserve-accounts/{p.reserve_account.pk}/close/", {"reason": "Moved"})
    assert said(kept) == "Reserve account closed (kept: reports name it). A compliance check has been requested."
    future = client.post(
        f"/institution/{p.pk}/reserve-accounts/{p.reserve_account.pk}/close/", {"closed_on": "2999-01-01"}
    )
    assert future.status_code == 302  # already closed: said so, nothing more to confirm
    assert AuditEntry.objects.filter(action="institution.reserve_account_removed").count() == 1


def test_a_member_who_does_not_manage_the_institution_cannot_end_a_filing(client, compliant_institution):
    p = compliant_institution
    member = UserFactory()
    MembershipFactory(user=member, subject=p.subject, role=Membership.Role.MEMBER)
    client.force_login(member)
    licence = p.licences.get()
    response = client.post(f"/institution/{p.pk}/licences/{licence.pk}/withdraw/", {"reason": "x"})
    assert response.status_code == 302
    assert said(response) == "Only the institution's owners and administrators may change it."
    licence.refresh_from_db()
    assert licence.withdrawn_at is None
    assert client.get(f"/institution/{p.pk}/licences/999999/withdraw/").status_code == 302


def test_removing_a_webhook_endpoint_and_unwatching_a_subject_go_back_to_their_section(client, compliant_institution):
    from payments import services
    from payments.models import WatchlistEntry, WebhookEndpoint
    from tests.factories import SubjectFactory

    p = compliant_institution
    endpoint = services.create_webhook_endpoint(
        actor=p.manager, institution_id=p.pk, url="https://example.test/h", event_types=["subject.blacklisted"]
    )
    watched = SubjectFactory()
    services.watch_subject(actor=p.manager, institution_id=p.pk, subject_id=watched.pk)
    client.force_login(p.manager)
    removed = client.post(f"/institution/{p.pk}/webhooks/{endpoint.pk}/remove/")
    assert removed["Location"].endswith("#webhooks") and said(removed) == "Webhook endpoint removed."
    assert not WebhookEndpoint.objects.get(pk=endpoint.pk).enabled
    gone = client.post(f"/institution/{p.pk}/webhooks/999999/remove/")
    assert said(gone) == "No such webhook endpoint."
    unwatched = client.post(f"/institution/{p.pk}/watchlist/{watched.pk}/remove/")
    assert unwatched["Location"].endswith("#watchlist")
    assert not WatchlistEntry.objects.filter(institution=p, subject=watched).exists()
