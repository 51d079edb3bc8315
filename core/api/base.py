"""The DRF base views: the API's one place to enter a tenant scope.

``TenantAPIView.perform_authentication`` resolves the tenant *after* authentication (an API
client belongs to one tenant; a browser session user picks one of their memberships, or names
one with the ``X-Quotient-Tenant`` header) and enters its scope; ``dispatch`` leaves it in a
``finally``. Subclasses may not override ``get_queryset``/``get_permissions`` (PostHog's guard):
they implement ``safely_get_queryset``, so a view cannot forget the tenant.

Mutating calls honour an ``Idempotency-Key`` header: the first response is stored with a hash
of the request; a replay returns it without running the view again; the same key with a
different request is a 422.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import ExitStack
from typing import Any, ClassVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.auth import request_api_client
from core.api.errors import error_body
from core.api.params import reject_nul
from core.audit import Actor, acting_as
from core.models import IdempotencyRecord, Membership
from core.tenancy import tenant_scope

TENANT_HEADER = "HTTP_X_QUOTIENT_TENANT"
IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORBIDDEN_OVERRIDES = ("get_queryset", "get_permissions", "dispatch", "perform_authentication")


def resolve_session_membership(request: Any) -> Membership | None:
    """Return the active membership a browser user is working in, or None."""
    user = request.user
    wanted = request.META.get(TENANT_HEADER)
    memberships = Membership.objects.select_related("tenant").filter(
        user=user, is_active=True, tenant__is_active=True
    )
    if wanted:
        return memberships.filter(tenant__slug=wanted).first()
    session_tenant = request.session.get("tenant_id") if hasattr(request, "session") else None
    if session_tenant is not None:
        chosen = memberships.filter(tenant_id=session_tenant).first()
        if chosen is not None:
            return chosen
    return memberships.order_by("created_at", "pk").first()


# Uploads are not read into memory to be hashed: the stream belongs to the view (and a
# multipart body may already have been consumed by the CSRF check). Their fingerprint is the
# content type and length, so the same key with a different-sized file is still refused.
UPLOAD_TYPES = frozenset({"multipart/form-data", "text/csv", "application/octet-stream"})


def _body_fingerprint(request: Request) -> bytes:
    """The bytes a keyed request is recognised by. An upload is fingerprinted by the SHA-256
    of its bytes, hashed while it is spooled (a different file of the same size is a
    different request, answered 422); the view then reads the spooled copy as it would have
    read the body."""
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type in UPLOAD_TYPES:
        return f"{content_type}:{_upload_sha256(request, content_type)}".encode()
    return bytes(request._request.body)


def _upload_sha256(request: Request, content_type: str) -> str:
    import tempfile

    if content_type == "multipart/form-data":
        digest = hashlib.sha256()
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(name.encode() + b"\0")
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
        return digest.hexdigest()
    raw = request._request
    spooled = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 (becomes the body)
    digest = hashlib.sha256()
    while chunk := raw.read(1 << 20):
        digest.update(chunk)
        spooled.write(chunk)
    spooled.seek(0)
    raw._stream = spooled  # type: ignore[assignment]  # the view reads the spooled copy
    raw._read_started = False  # type: ignore[attr-defined]
    return digest.hexdigest()


class TenantViewMixin:
    """Tenant resolution, scope, actor, idempotency and guarded querysets for API views."""

    permission: ClassVar[str | tuple[str, ...] | None] = None
    write_permission: ClassVar[str | tuple[str, ...] | None] = None
    idempotent: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in _FORBIDDEN_OVERRIDES:
            if name in cls.__dict__ and not cls.__dict__.get("_quotient_base", False):
                raise TypeError(
                    f"{cls.__name__} must not override {name}(); "
                    "implement safely_get_queryset() and declare `permission` instead"
                )

    # -- tenant --------------------------------------------------------------------------------

    def perform_authentication(self, request: Request) -> None:
        request.user  # noqa: B018 (forces DRF authentication now, before the tenant)
        stack: ExitStack = self._quotient_stack
        request_id = request._request.META.get("QUOTIENT_REQUEST_ID", "") or uuid.uuid4().hex
        client = request_api_client(request)
        if client is not None:
            stack.enter_context(tenant_scope(client.tenant))
            request.tenant = client.tenant  # type: ignore[attr-defined]
            request.membership = None  # type: ignore[attr-defined]
            stack.enter_context(
                acting_as(
                    Actor(
                        api_client_id=client.pk, label=f"api:{client.name}", request_id=request_id
                    )
                )
            )
            return
        if not request.user or not request.user.is_authenticated:
            return
        membership = resolve_session_membership(request)
        if membership is None:
            # Unknown tenant, or one this user does not belong to: indistinguishable.
            raise NotFound("Not found.")
        stack.enter_context(tenant_scope(membership.tenant))
        request.tenant = membership.tenant  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        stack.enter_context(
            acting_as(
                Actor(
                    user_id=request.user.pk,
                    label=request.user.get_username(),
                    request_id=request_id,
                )
            )
        )

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with ExitStack() as stack:
            self._quotient_stack = stack
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def get_permissions(self) -> list[Any]:
        return super().get_permissions()  # type: ignore[misc,no-any-return]

    # -- idempotency ---------------------------------------------------------------------------

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        reject_nul(request)
        self._idempotency_key = None
        key = request._request.META.get(IDEMPOTENCY_HEADER)
        if key and request.method in UNSAFE_METHODS and self.idempotent:
            if len(key) > 255 or not key.isprintable():
                from core.errors import ValidationFailedError

                raise ValidationFailedError(
                    "Idempotency-Key must be at most 255 printable characters.",
                    code="idempotency_key_invalid",
                )
            digest = hashlib.sha256(
                request.method.encode()
                + b"\0"
                + request._request.get_full_path().encode()
                + b"\0"
                + _body_fingerprint(request)
            ).hexdigest()
            self._idempotency_key = (key, digest)
            method = request.method.lower()
            original = getattr(self, method, None)
            if original is not None:

                def guarded(req: Request, *a: Any, **kw: Any) -> Response:
                    return self.handle_with_idempotency(original, req, *a, **kw)

                # dispatch() looks the handler up after initial(): route it through the store.
                setattr(self, method, guarded)

    def idempotency_redact(self, data: Any) -> Any:
        """Return the form of a response body that may be stored for replays (override to
        leave out secrets shown once)."""
        return data

    def _principal(self) -> str:
        request: Request = self.request  # type: ignore[attr-defined]
        client = request_api_client(request)
        return f"client:{client.pk}" if client else f"user:{request.user.pk}"

    def handle_with_idempotency(
        self, handler: Any, request: Request, *args: Any, **kwargs: Any
    ) -> Response:
        key, digest = self._idempotency_key  # type: ignore[misc]
        principal = self._principal()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        principal=principal,
                        key=key,
                        method=request.method,
                        path=request._request.path[:500],
                        request_hash=digest,
                        response_status=0,
                        response_body=None,
                        created_at=timezone.now(),
                    )
            except IntegrityError:
                record = IdempotencyRecord.objects.get(principal=principal, key=key)
                if record.request_hash != digest:
                    return Response(
                        error_body(
                            "idempotency_key_reused",
                            "This Idempotency-Key was used with a different request.",
                        ),
                        status=status.HTTP_422_UNPROCESSABLE_ENTITY,
                    )
                replay = Response(record.response_body, status=record.response_status)
                replay["Idempotent-Replayed"] = "true"
                return replay
            response = handler(request, *args, **kwargs)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response  # type: ignore[no-any-return]
            record.response_status = response.status_code
            record.response_body = (
                json.loads(DjangoJSONEncoder().encode(self.idempotency_redact(response.data)))
                if getattr(response, "data", None) is not None
                else None
            )
            record.save(update_fields=["response_status", "response_body"])
            return response  # type: ignore[no-any-return]


class TenantAPIView(TenantViewMixin, APIView):
    """Base of every tenant API view."""


class TenantGenericAPIView(TenantViewMixin, generics.GenericAPIView):  # type: ignore[type-arg]
    """Base of generic tenant API views; querysets come from ``safely_get_queryset``."""

    _quotient_base = True

    def get_queryset(self) -> QuerySet[Any]:
        return self.safely_get_queryset()

    def safely_get_queryset(self) -> QuerySet[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement safely_get_queryset()")
