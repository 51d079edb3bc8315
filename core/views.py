"""HTML pages of the foundation: sign-in, tenant switch, members, API clients, audit log."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core import selectors, services
from core.auth import RATE_LIMITED_MESSAGE, login_blocked_for, login_failed
from core.errors import ApplicationError, NotFoundError
from core.forms import ApiClientForm, InviteForm, RolesForm
from core.permissions import membership_has

ViewFunc = Callable[..., HttpResponse]


def require_permission(permission: str) -> Callable[[ViewFunc], ViewFunc]:
    """Allow a view only to members whose roles grant ``permission``; others get a 404."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not membership_has(getattr(request, "membership", None), permission):
                raise Http404("Not found")
            try:
                return view(request, *args, **kwargs)
            except NotFoundError:
                # Not found and not yours look the same in pages too.
                raise Http404("Not found") from None

        return login_required(wrapped)

    return decorator


class LoginView(auth_views.LoginView):
    """Sign-in with 5 failures per user or per IP in 15 minutes, then 429 until the window ends."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        wait = login_blocked_for(request, username)
        if wait:
            return self._limited(request, wait)
        response = super().post(request, *args, **kwargs)
        if not request.user.is_authenticated:
            login_failed(request, username)
            wait = login_blocked_for(request, username)
            if wait:
                return self._limited(request, wait)
        return response

    def _limited(self, request: HttpRequest, wait: int) -> HttpResponse:
        minutes = max(1, (wait + 59) // 60)
        response = render(
            request,
            "registration/login.html",
            {
                "form": self.get_form_class()(request),
                "rate_limited": RATE_LIMITED_MESSAGE.format(minutes=minutes),
            },
            status=429,
        )
        response["Retry-After"] = str(wait)
        return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Landing page after sign-in: who you are here and where to go."""
    if getattr(request, "membership", None) is None:
        # Not a member anywhere (or only of inactive tenants): reveal nothing, explain kindly.
        return render(request, "core/no_tenant.html", status=404)
    return render(request, "core/home.html", {"active_nav": "home"})


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's tenants current; an unknown one is a 404."""
    slug = request.POST.get("tenant", "")
    membership = next(
        (m for m in getattr(request, "memberships", []) if m.tenant.slug == slug), None
    )
    if membership is None:
        raise Http404("Not found")
    request.session["tenant_id"] = membership.tenant_id
    messages.success(request, f"You are now working in {membership.tenant.name}.")
    return redirect("home")


@require_permission("members.view")
def members(request: HttpRequest) -> HttpResponse:
    """Tenant admin: list members, invite one."""
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.membership_invite(
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                roles=form.cleaned_data["roles"],
            )
        except ApplicationError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(
                request,
                f"Invited {membership.user.email}; they will receive an "
                "e-mail to set their password.",
            )
            return redirect("members")
    rows = [
        (m, RolesForm(initial={"roles": m.roles}, prefix=f"m{m.pk}"))
        for m in selectors.membership_list()
    ]
    return render(
        request, "core/members.html", {"rows": rows, "form": form, "active_nav": "members"}
    )


@require_permission("members.change")
@require_POST
def member_update(request: HttpRequest, membership_id: int) -> HttpResponse:
    """Tenant admin: change a member's roles, deactivate or reactivate them."""
    try:
        membership = selectors.membership_get(membership_id=membership_id)
        action = request.POST.get("action")
        if action == "roles":
            form = RolesForm(request.POST, prefix=f"m{membership_id}")
            if not form.is_valid():
                raise ApplicationError("Choose at least one valid role.")
            services.membership_update_roles(
                membership_id=membership_id, roles=form.cleaned_data["roles"]
            )
            messages.success(request, f"Roles of {membership.user.email} updated.")
        elif action in {"deactivate", "activate"}:
            services.membership_set_active(membership_id=membership_id, active=action == "activate")
            messages.success(request, f"{membership.user.email} {action}d.")
        else:
            raise ApplicationError("Unknown action.")
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise Http404("Not found") from None
        messages.error(request, exc.message)
    return redirect("members")


@require_permission("api_clients.view")
def api_clients(request: HttpRequest) -> HttpResponse:
    """Tenant admin: API clients for integrations; a new token is shown exactly once."""
    form = ApiClientForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_client_create(
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                created_by_id=request.user.pk,
            )
        except ApplicationError as exc:
            form.add_error("name", exc.message)
        else:
            form = ApiClientForm()
    response = render(
        request,
        "core/api_clients.html",
        {
            "clients": selectors.api_client_list(),
            "form": form,
            "issued": issued,
            "active_nav": "api_clients",
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@require_permission("api_clients.change")
@require_POST
def api_client_revoke(request: HttpRequest, client_id: int) -> HttpResponse:
    try:
        client = services.api_client_revoke(client_id=client_id)
    except ApplicationError:
        raise Http404("Not found") from None
    messages.success(request, f"API client “{client.name}” revoked; its token no longer works.")
    return redirect("api_clients")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Report database, broker and worker heartbeat; 503 when a configured part is down."""
    report: dict[str, Any] = {"time": timezone.now().isoformat()}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        report["database"] = {"status": "ok", "vendor": connection.vendor}
    except Exception as exc:
        healthy = False
        report["database"] = {"status": "error", "error": exc.__class__.__name__}
    if settings.REDIS_URL is None:
        report["broker"] = {"status": "not_configured", "mode": "eager (tasks run in-process)"}
        report["worker"] = {"status": "not_configured"}
    else:
        from core.health import broker_status, worker_status

        report["broker"] = broker_status()
        report["worker"] = worker_status()
        healthy = healthy and report["broker"]["status"] == "ok"
    report["status"] = "ok" if healthy else "error"
    return JsonResponse(report, status=200 if healthy else 503)
