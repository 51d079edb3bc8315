from __future__ import annotations

from django import forms

from core.errors import ApplicationError
from core.models import API_SCOPES, Role
from core.services import full_name_split


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    # No max_length: the browser would cut a longer name silently; the service's rule says why.
    full_name = forms.CharField(label="Full name")
    roles = forms.MultipleChoiceField(
        choices=Role.choices, widget=forms.CheckboxSelectMultiple, initial=[Role.EMPLOYEE]
    )

    def clean_full_name(self) -> str:
        full_name: str = self.cleaned_data["full_name"]
        try:
            full_name_split(full_name)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        return full_name


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=Role.choices, widget=forms.CheckboxSelectMultiple)


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. 'Payroll export (Workday)'")
    scopes = forms.MultipleChoiceField(
        choices=list(API_SCOPES.items()), widget=forms.CheckboxSelectMultiple
    )
