"""Earnings progress and nudges API: the caller's own component cards (tier progress, the
next threshold and the distance to it, the projected payout at the current pace with its
assumption) and her nudge preference.

"Me" is the person the signed-in user is linked to; a caller linked to nobody (an API client,
an admin without an HR record) gets a 404, like someone else's figures. Setting a preference
is a write: an API client (which has no person of its own, whatever its scopes) is refused it
with a 403, like every other write a ``read:payouts`` client sends.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import params
from core.api.base import TenantAPIView
from core.errors import NotFoundError, PermissionDeniedError
from core.permissions import request_principal
from engine.nudges import Progress
from hierarchy import org_selectors
from hierarchy.access import request_access
from hierarchy.models import Person
from payouts import nudges

READ = ("payouts.view", "payouts.view.team", "payouts.view.self")
NOT_LINKED = "Your sign-in is not linked to a person."
CLIENT_NO_PREFERENCE = "A nudge preference is a person's own: an API client sets none."


def _me(request: Request) -> Person:
    user_id = getattr(request.user, "pk", None)
    person = org_selectors.person_for_user(user_id=int(user_id)) if user_id else None
    if person is None:
        raise NotFoundError(NOT_LINKED)
    return person


class MarkSerializer(serializers.Serializer):  # type: ignore[type-arg]
    key = serializers.CharField(help_text="tier_2, point_1, gate, milestone_<team>")
    kind = serializers.CharField()
    at = serializers.DecimalField(max_digits=24, decimal_places=4, help_text="In the unit")
    label = serializers.CharField()  # type: ignore[assignment]
    reached = serializers.BooleanField()


class LadderSerializer(serializers.Serializer):  # type: ignore[type-arg]
    kind = serializers.ChoiceField(choices=["tier", "curve", "gate", "milestone"])
    unit = serializers.ChoiceField(choices=["money", "count", "points"])
    measure = serializers.DecimalField(max_digits=24, decimal_places=4)
    marks = MarkSerializer(many=True)
    next = MarkSerializer(allow_null=True)
    distance = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    within_reach = serializers.BooleanField()
    text = serializers.CharField(help_text="The nudge sentence")


class ProjectionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=4, allow_null=True, help_text="Null: no projection"
    )
    currency = serializers.CharField()
    assumption = serializers.CharField(help_text="The projection's assumption in words")
    pace = serializers.DecimalField(max_digits=20, decimal_places=8, allow_null=True)


class CardSerializer(serializers.Serializer):  # type: ignore[type-arg]
    plan_id = serializers.IntegerField()
    plan_version_id = serializers.IntegerField()
    plan = serializers.CharField(source="plan_name")
    component_id = serializers.CharField()
    component = serializers.CharField(source="component_name")
    currency = serializers.CharField()
    earned = serializers.DecimalField(max_digits=20, decimal_places=4)
    measure = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    quota = serializers.DecimalField(max_digits=24, decimal_places=4, allow_null=True)
    attainment = serializers.DecimalField(max_digits=20, decimal_places=8, allow_null=True)
    ladders = LadderSerializer(many=True)
    projection = ProjectionSerializer(allow_null=True)
    line_id = serializers.IntegerField(allow_null=True)


class EarningsMeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    person_id = serializers.IntegerField(source="person.pk")
    full_name = serializers.CharField(source="person.full_name")
    period_id = serializers.IntegerField(source="period.pk", allow_null=True)
    period = serializers.CharField(source="period.label", allow_null=True)
    status = serializers.CharField(help_text="final, provisional or none (no run yet)")
    run_id = serializers.IntegerField(source="run.pk", allow_null=True)
    components = CardSerializer(source="cards", many=True)


def _ladder(p: Progress) -> dict[str, Any]:
    def mark(m: Any) -> dict[str, Any] | None:
        return None if m is None else asdict(m)

    return {
        "kind": p.kind,
        "unit": p.unit,
        "measure": p.measure,
        "marks": [mark(m) for m in p.marks],
        "next": mark(p.next),
        "distance": p.distance,
        "within_reach": p.within_reach,
        "text": p.text,
    }


def _card(c: nudges.Card) -> dict[str, Any]:
    return {
        **{k: v for k, v in c.__dict__.items() if k not in ("ladders", "projection")},
        "ladders": [_ladder(p) for p in c.ladders],
        "projection": c.projection.__dict__ if c.projection is not None else None,
    }


class EarningsMeView(TenantAPIView):
    """The caller's own earnings progress for a period (``?period=<id>``; default: her latest
    statement's): per component the run's figures, every threshold (tiers, curve points, gate,
    shared milestone) with the next one and the distance to it in the measure's unit and the
    nudge sentence, and the projected payout at the current pace, computed by the engine."""

    permission = READ

    @extend_schema(
        summary="My earnings progress, nudges and projection",
        description=(
            "Per component: attainment, tier marks, the next threshold and the distance to it "
            "('38,000.00 USD more puts you in the 8 % tier'), and the payout projected at the "
            "pace so far (a linear run-rate of sums and counts to the period's end, computed "
            "by the plan's own rules) with its assumption in words. A caller linked to no "
            "person, or a period not hers, is a 404."
        ),
        tags=["Earnings"],
        parameters=[OpenApiParameter("period", int, description="Period id")],
        responses={200: EarningsMeSerializer},
    )
    def get(self, request: Request) -> Response:
        person = _me(request)
        got = nudges.earnings_progress(
            access=request_access(request),
            person=person,
            period_id=params.identifier(request, "period"),
        )
        data = {
            "person": got.person,
            "period": got.period,
            "status": got.status,
            "run": got.run,
            "cards": [_card(c) for c in got.cards],
        }
        return Response(EarningsMeSerializer(data).data)


class NudgePreferenceSerializer(serializers.Serializer):  # type: ignore[type-arg]
    enabled = serializers.BooleanField(help_text="Nudges on or off (off until turned on)")
    email = serializers.BooleanField(default=True, help_text="By e-mail")
    webhook_url = serializers.CharField(
        max_length=500, allow_blank=True, default="", help_text="Slack-compatible webhook URL"
    )
    quiet_until = serializers.DateField(
        allow_null=True, default=None, help_text="Send nothing before this day"
    )


class NudgePreferenceView(TenantAPIView):
    """The caller's own nudge preference: read it, or replace it (one audit event)."""

    permission = READ
    write_permission = READ

    @extend_schema(
        summary="My nudge preference",
        description="Whether nudges are on, by e-mail and/or webhook, and quiet until a day.",
        tags=["Earnings"],
        responses={200: NudgePreferenceSerializer},
    )
    def get(self, request: Request) -> Response:
        pref = nudges.nudge_preference_get(person=_me(request))
        return Response(NudgePreferenceSerializer(pref).data)

    @extend_schema(
        summary="Set my nudge preference",
        description=(
            "Replace the caller's nudge preference. A webhook address must be http(s); quiet "
            "until must be today or later. Writes one audit event. An API client has no "
            "preference of its own: 403."
        ),
        tags=["Earnings"],
        request=NudgePreferenceSerializer,
        responses={200: NudgePreferenceSerializer},
    )
    def put(self, request: Request) -> Response:
        if request_principal(request).api_client_id is not None:
            raise PermissionDeniedError(CLIENT_NO_PREFERENCE, details={"guard": "scope"})
        person = _me(request)
        data = NudgePreferenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pref = nudges.nudge_preference_update(person=person, **data.validated_data)
        return Response(NudgePreferenceSerializer(pref).data)
