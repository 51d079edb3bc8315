"""Factories for people, job roles, hierarchies and nodes (use inside a tenant scope)."""

from __future__ import annotations

from datetime import date
from typing import Any

import factory

from core.tenancy import get_current_tenant
from hierarchy.models import Hierarchy, HierarchyKind, JobFunction, JobRole, Person
from hierarchy.versions import person_versions_record


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    tenant = factory.LazyFunction(get_current_tenant)
    employee_id = factory.Sequence(lambda n: f"E{n:05d}")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    email = factory.LazyAttribute(lambda o: f"{o.employee_id.lower()}@example.com")
    hire_date = date(2020, 1, 1)
    home_currency = "USD"

    @classmethod
    def _create(cls, model_class: type[Person], *args: Any, **kwargs: Any) -> Person:
        """Save as the person services do: with the version log a run reads."""
        person: Person = super()._create(model_class, *args, **kwargs)
        person_versions_record([person])
        return person


class JobRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobRole

    tenant = factory.LazyFunction(get_current_tenant)
    name = factory.Sequence(lambda n: f"Role {n}")
    function = JobFunction.SALES


class HierarchyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hierarchy

    tenant = factory.LazyFunction(get_current_tenant)
    code = factory.Sequence(lambda n: f"h{n}")
    name = factory.LazyAttribute(lambda o: o.code.upper())
    kind = HierarchyKind.REPORTING
