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
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from core import mail, selectors, services
from core.auth import (
    RESET_LIMITED_MESSAGE,
    client_ip,
    password_reset_blocked_for,
    password_reset_requested,
    rate_limited_response,
    throttled_login,
)
from core.errors import ApplicationError, NotFoundError, error_body
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


@method_decorator(throttled_login, name="dispatch")
class LoginView(auth_views.LoginView):
    """Sign-in, throttled per account and (at a higher threshold) per address: 429 when locked."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    """Password reset, throttled per address and per client address; links use SITE_URL."""

    def form_valid(self, form: Any) -> HttpResponse:
        email, ip = form.cleaned_data["email"], client_ip(self.request)
        wait = password_reset_blocked_for(email=email, ip=ip)
        if wait:
            return rate_limited_response(
                self.request,
                wait,
                template=str(self.template_name),
                context=self.get_context_data(form=form),
                message=RESET_LIMITED_MESSAGE,
            )
        password_reset_requested(email=email, ip=ip)
        self.extra_email_context = mail.email_link_context()
        return super().form_valid(form)


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
    return render(
        request,
        "core/api_clients.html",
        {
            "clients": selectors.api_client_list(),
            "form": form,
            "issued": issued,
            "active_nav": "api_clients",
        },
    )


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


# --- error pages ----------------------------------------------------------------------------------
# Branded pages (templates/404.html, 403.html, 500.html) in the product layout; under /api/ the
# JSON error envelope instead. NotFoundMiddleware makes the 404 page show in DEBUG (the demo) too.


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error_page(
    request: HttpRequest, *, status: int, template: str, code: str, message: str
) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body(code, message), status=status)
    user = getattr(request, "user", None)
    layout = "base.html" if user is not None and user.is_authenticated else "auth_base.html"
    return render(request, template, {"layout": layout, "message": message}, status=status)


NUL_IN_PAGE_REQUEST = (
    "The address or form contained a NUL character, which no field can hold. "
    "Go back, correct it and try again."
)


def bad_request(request: HttpRequest, message: str = NUL_IN_PAGE_REQUEST) -> HttpResponse:
    """A page request that cannot be read (e.g. a NUL in its query): the branded 400."""
    return _error_page(
        request, status=400, template="400.html", code="malformed_request", message=message
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Not found, or not available to you: the same page, with a way home."""
    response = _error_page(
        request, status=404, template="404.html", code="not_found", message="Not found."
    )
    response.quotient_not_found = True  # type: ignore[attr-defined]
    return response


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request refused by Django's permission checks."""
    return _error_page(
        request,
        status=403,
        template="403.html",
        code="permission_denied",
        message="You do not have permission to perform this action.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without a valid CSRF token (usually: the page was open too long)."""
    return _error_page(
        request,
        status=403,
        template="403.html",
        code="csrf_failed",
        message="The form expired. Reload the page and try again.",
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """Our fault: say so plainly, with the request id to quote."""
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side. Try again later."),
            status=500,
        )
    from django.template import loader

    # Rendered without context processors: the database may be what failed.
    body = loader.get_template("500.html").render(
        {"request_id": request.META.get("QUOTIENT_REQUEST_ID", "")}
    )
    return HttpResponse(body, status=500)
