"""Demo plans: one plan per template, published from the start of this fiscal year, assigned to
the job roles it was written for (the templates are loaded from plans/templates/, never copied).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.audit import Actor, acting_as
from core.models import Role
from core.permissions import ROLE_PERMISSIONS, Principal
from core.tenancy import get_current_tenant
from hierarchy import periods
from hierarchy.access import access_for
from hierarchy.models import JobRole
from plans import catalog, services
from plans.models import Plan

# template -> (job role it is assigned to, target incentive per payout period)
ROLE_OF_TEMPLATE: dict[str, tuple[str, Decimal]] = {
    "sales_ae": ("Account Executive", Decimal(6000)),
    "sdr": ("Sales Development Rep", Decimal(1500)),
    "marketing": ("Demand Generation", Decimal(2000)),
    "customer_success": ("Customer Success Manager", Decimal(2000)),
    "support": ("Support Engineer", Decimal(800)),
    "product": ("Product Manager", Decimal(2500)),
    "operations": ("Revenue Operations Analyst", Decimal(8000)),
    "manager_override": ("Sales Manager", Decimal(4000)),
}
DEMO_ACTOR = Actor(label="plans demo seed")


def seed_plans() -> dict[str, Any]:
    """Create and publish the template plans (once) and assign them to their job roles."""
    if Plan.objects.exists():
        return {"skipped": "plans already seeded"}
    tenant = get_current_tenant()
    today = periods.tenant_today(tenant)
    start, _end = periods.fiscal_year_bounds(tenant, periods.fiscal_year_of(tenant, today))
    access = access_for(Principal(permissions=ROLE_PERMISSIONS[Role.COMP_ADMIN]), today=today)
    roles = {r.name: r for r in JobRole.objects.all()}
    created, assigned = 0, 0
    with acting_as(DEMO_ACTOR):
        for template in catalog.template_list():
            plan = services.plan_create(
                code=template.key.replace("_", "-"),
                name=template.name,
                description=template.summary,
                template=template.key,
                valid_from=start,
                user_id=None,
            )
            version = services.plan_version_publish(version_id=plan.versions.get().pk, user_id=None)
            created += 1
            role_name, target = ROLE_OF_TEMPLATE.get(template.key, ("", Decimal(0)))
            role = roles.get(role_name)
            if role is None:
                continue
            services.plan_assignment_create(
                access=access,
                plan_version_id=version.pk,
                holder=services.Holder(role_id=role.pk),
                target_incentive=target,
                valid_from=start,
                user_id=None,
            )
            assigned += 1
    return {"plans": created, "assignments": assigned, "from": start.isoformat()}
