from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from core.errors import ApplicationError
from core.models import API_SCOPES, Role
from core.services import full_name_split


class LastDayField(forms.DateField):
    """A span's end as people give it: its last day, inclusive ("through 31 Mar 2026").

    Quotient stores every end exclusive (the first day no longer covered: ``valid_to``); this
    field shows the stored end as the day before and cleans the day entered into the day
    after, so a form reads "Last day 31 Mar 2026" where the row holds 2026-04-01. Files and
    the API keep the stored, exclusive end (docs/imports.md, docs/api.md).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Last day")
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dt.date):  # an initial value: the stored, exclusive end
            return value - dt.timedelta(days=1)
        return value

    def to_python(self, value: Any) -> dt.date | None:
        day = super().to_python(value)
        return None if day is None else day + dt.timedelta(days=1)


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
