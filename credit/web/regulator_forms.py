"""The regulator console's forms. Shape only: the services check the rules, and a
service's error is shown beside the field it names."""

from django import forms

from core.countries import country_choices
from credit import errors
from credit.models import BlacklistEntry, EventKind, Severity
from credit.selectors.accounts import find_subject_by_registration, get_subject


class SubjectLookupMixin(forms.Form):
    """A subject by id, or by country + registration number."""

    subject_id = forms.IntegerField(required=False, label="Subject id")
    country = forms.ChoiceField(choices=[("", "—")] + country_choices(), required=False)
    registration_number = forms.CharField(max_length=40, required=False)

    def clean(self):
        cleaned = super().clean()
        subject_id = cleaned.get("subject_id")
        country = cleaned.get("country")
        number = (cleaned.get("registration_number") or "").strip()
        subject = None
        if subject_id:
            try:
                subject = get_subject(subject_id=subject_id)
            except errors.SubjectNotFound:
                self.add_error("subject_id", f"No subject with id {subject_id}.")
        elif country and number:
            subject = find_subject_by_registration(country=country, registration_number=number)
            if subject is None:
                self.add_error("registration_number", f"No subject registered in {country} under {number}.")
        else:
            self.add_error("subject_id", "Give the subject id, or its country and registration number.")
        cleaned["subject"] = subject
        return cleaned

    def own_data(self) -> dict:
        """The cleaned values of the form's own fields, without the subject lookup."""
        lookup = {*SubjectLookupMixin.base_fields, "subject"}
        return {name: value for name, value in self.cleaned_data.items() if name not in lookup}


class EntryForm(SubjectLookupMixin):
    category = forms.ChoiceField(choices=BlacklistEntry.Category.choices)
    severity = forms.ChoiceField(
        choices=Severity.choices,
        help_text="Minor: published up to 3 months. General: up to 1 year, repair after 3 months. "
        "Serious: up to 3 years, repair after 1 year.",
    )
    legal_basis = forms.CharField(max_length=500)
    decision_reference = forms.CharField(max_length=120, help_text="The regulator's decision number")
    description = forms.CharField(widget=forms.Textarea, max_length=4000)
    starts_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Default today"
    )
    publication_ends_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Exclusive. Leave empty for the severity's maximum period.",
    )
    fine_amount = forms.DecimalField(required=False, max_digits=16, decimal_places=2, min_value=0)
    fine_currency = forms.CharField(required=False, max_length=3, help_text="ISO 4217, e.g. CNY")
    fine_paid = forms.BooleanField(required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class ReplyForm(forms.Form):
    reply = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=8000)


class AppealDecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("uphold", "Uphold"), ("dismiss", "Dismiss")], widget=forms.RadioSelect)
    reasons = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=8000)
    new_publication_ends_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Period challenges only: the new (exclusive) end of publication when upholding.",
    )


class RepairDecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.RadioSelect)
    reasons = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=8000)


class EventForm(SubjectLookupMixin):
    kind = forms.ModelChoiceField(queryset=EventKind.objects.none())
    occurred_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    magnitude = forms.DecimalField(max_digits=8, decimal_places=2, min_value=0, initial=1)
    evidence_reference = forms.CharField(max_length=300, required=False, help_text="Private to the subject")
    source_reference = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].queryset = EventKind.objects.order_by("component", "code")


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, help_text="e.g. blacklist. or appeal.upheld")
    actor = forms.CharField(required=False)
    subject_id = forms.IntegerField(required=False)
    target_type = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any"),
            ("credit.blacklistentry", "Blacklist entry"),
            ("credit.appeal", "Appeal"),
            ("credit.repairapplication", "Repair application"),
            ("credit.creditevent", "Credit event"),
            ("credit.subject", "Subject"),
        ],
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
