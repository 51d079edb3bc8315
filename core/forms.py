from __future__ import annotations

from django import forms

from core.models import API_SCOPES, Role


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    full_name = forms.CharField(label="Full name", max_length=200)
    roles = forms.MultipleChoiceField(
        choices=Role.choices, widget=forms.CheckboxSelectMultiple, initial=[Role.EMPLOYEE]
    )


class RolesForm(forms.Form):
    roles = forms.MultipleChoiceField(choices=Role.choices, widget=forms.CheckboxSelectMultiple)


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="e.g. 'Payroll export (Workday)'")
    scopes = forms.MultipleChoiceField(
        choices=list(API_SCOPES.items()), widget=forms.CheckboxSelectMultiple
    )
