"""E-mails the platform sends (from a task, after the transaction that asked for them)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.tenancy import get_current_tenant


def email_link_context() -> dict[str, str]:
    """Return ``protocol`` and ``domain`` of e-mailed links, from SITE_URL (never the Host)."""
    site = str(settings.SITE_URL).rstrip("/")
    return {"protocol": site.split("://")[0], "domain": site.split("://", 1)[-1]}


def invitation_send(*, user_id: int) -> None:
    """E-mail a new member of the current tenant a link to choose their password."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return  # removed before the e-mail went out: nobody to invite
    context = {
        **email_link_context(),
        "tenant": get_current_tenant(),
        "email": user.email,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }
    subject = render_to_string("registration/invite_subject.txt", context).strip()
    body = render_to_string("registration/invite_email.txt", context)
    send_mail(subject, body, None, [user.email])
