"""core.web: a service's domain error beside the field it names, the write step of a form
page (every POST that succeeds redirects), and the confirmation page of an irreversible
action."""

import pytest
from django import forms
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.cache import SessionStore
from django.test import RequestFactory

from core.errors import Conflict, InvalidInput
from core.web import add_domain_error, confirmation_page, submit


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=100)


def _request(method="get", data=None):
    request = getattr(RequestFactory(), method)("/somewhere/", data or {})
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_a_domain_error_goes_beside_the_field_it_names_or_on_top():
    form = ReasonForm({"reason": "x"})
    assert form.is_valid()
    add_domain_error(form, InvalidInput("Bad.", field_errors={"reason": ["Too vague."], "elsewhere": "Not here."}))
    assert form.errors["reason"] == ["Too vague."]
    assert form.non_field_errors() == ["Not here."]

    form = ReasonForm({"reason": "x"})
    form.is_valid()
    add_domain_error(form, Conflict("Already done."))
    assert form.non_field_errors() == ["Already done."]


def test_submit_redirects_with_the_message_or_keeps_the_form_with_the_error():
    request = _request("post", {"reason": "late"})
    form = ReasonForm(request.POST)
    response = submit(
        request,
        form,
        lambda data: data["reason"].upper(),
        success=lambda r: f"Done: {r}",
        redirect_to=lambda r: f"/x/{r}/",
    )
    assert (response.status_code, response["Location"]) == (302, "/x/LATE/")
    assert [str(m) for m in request._messages] == ["Done: LATE"]

    def refuse(data):
        raise InvalidInput("No.", field_errors={"reason": ["Not a reason."]})

    form = ReasonForm(request.POST)
    assert submit(request, form, refuse, success="never", redirect_to="/x/") is None
    assert form.errors == {"reason": ["Not a reason."]}
    assert submit(_request(), ReasonForm(), refuse, success="never", redirect_to="/x/") is None  # GET: nothing runs


@pytest.mark.django_db
def test_the_confirmation_page_asks_first_then_acts_once_and_redirects():
    done = []
    page = dict(title="Withdraw licence L-1", success="Withdrawn.", back="/institutions/1/", back_label="Acme")

    response = confirmation_page(_request(), action=done.append, explanation="It stays on file.", **page)
    html = response.content.decode()
    assert response.status_code == 200 and not done
    assert "Withdraw licence L-1" in html and "It stays on file." in html and 'type="submit"' in html

    response = confirmation_page(_request("post"), action=done.append, **page)
    assert (response.status_code, response["Location"], len(done)) == (302, "/institutions/1/", 1)

    def refuse(data):
        raise Conflict("Already withdrawn.")

    response = confirmation_page(_request("post"), action=refuse, **page)
    assert response.status_code == 400 and "Already withdrawn." in response.content.decode()
