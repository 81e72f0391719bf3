from django import forms

from payments.models import ProviderAPIKey


class IssueKeyForm(forms.Form):
    institution = forms.ModelChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(max_length=50, help_text="What the key is for, e.g. 'checkout screening'.")
    scopes = forms.MultipleChoiceField(
        choices=ProviderAPIKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=list(ProviderAPIKey.Scope.values),
    )
    expires_at = forms.DateTimeField(required=False, help_text="Optional, UTC, e.g. 2027-06-30 00:00.")

    def __init__(self, *args, institutions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = institutions
