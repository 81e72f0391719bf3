from django import forms

from core.countries import country_choices

KIND_CHOICES = [
    ("merchant", "Merchant"),
    ("warehouse_operator", "Warehouse operator"),
    ("payment_institution", "Payment institution"),
    ("logistics_provider", "Logistics provider"),
]


class SignUpForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)
    country = forms.ChoiceField(choices=[("", "Choose a country")] + country_choices())
    registration_number = forms.CharField(
        max_length=40,
        help_text="As issued in that country. If the enterprise is already registered, you ask to join it.",
    )
    legal_name = forms.CharField(max_length=300, help_text="In any script, as registered.")
    kinds = forms.MultipleChoiceField(choices=KIND_CHOICES, widget=forms.CheckboxSelectMultiple, initial=["merchant"])
