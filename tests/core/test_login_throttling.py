"""Sign-in and password-reset throttling: per account, per address only at a higher threshold.

Hole 5 of issue #8: one person's wrong passwords locked out everyone behind their address,
/django-admin/login/ had no limit, look-alike spellings of an e-mail bought fresh attempts and
password reset had no throttle.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from core.auth import account_key, find_user, normalise_login
from core.models import AttemptKind, LoginAttempt
from tests.factories.hierarchy import UserFactory

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
FULL_WIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45@acme.test"  # "alice" in full-width letters
DOTLESS_ALICE = "al\u0131ce@acme.test"  # a dotless i: PostgreSQL's UPPER() makes it ALICE


def _login(client, email, password="password", ip="10.0.0.1", path="/login/"):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=ip)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_one_persons_wrong_passwords_do_not_lock_out_others_behind_the_same_address(
    client, alice, bob
):
    with time_machine.travel(NOW, tick=False):
        statuses = [_login(client, "alice@acme.test", "wrong", ip="192.0.2.7").status_code]
        statuses += [
            _login(client, "alice@acme.test", "wrong", ip="192.0.2.7").status_code for _ in range(4)
        ]
        assert statuses == [200, 200, 200, 200, 429]
        assert _login(client, "alice@acme.test", ip="192.0.2.7").status_code == 429
        # Bob shares the office NAT: he is not locked out.
        assert _login(client, "bob@acme.test", ip="192.0.2.7").status_code == 302


def test_an_address_is_blocked_only_at_a_much_higher_threshold(client, settings, alice, bob):
    assert settings.LOGIN_IP_FAILURE_LIMIT >= 10 * settings.LOGIN_FAILURE_LIMIT
    with time_machine.travel(NOW, tick=False):
        for i in range(settings.LOGIN_IP_FAILURE_LIMIT - 1):
            guess = _login(client, f"guess{i}@acme.test", "wrong", ip="198.51.100.9")
            assert guess.status_code == 200
        last = _login(client, "guess-last@acme.test", "wrong", ip="198.51.100.9")
        assert last.status_code == 429
        assert _login(client, "bob@acme.test", ip="198.51.100.9").status_code == 429
        assert _login(client, "bob@acme.test", ip="198.51.100.10").status_code == 302


def test_a_forged_forwarded_for_header_does_not_reset_the_address_count(client, settings, db):
    # given: one client that claims a new X-Forwarded-For on every request
    with time_machine.travel(NOW, tick=False):
        for i in range(settings.LOGIN_IP_FAILURE_LIMIT):
            client.post(
                "/login/",
                {"username": f"guess{i}@acme.test", "password": "wrong"},
                REMOTE_ADDR="192.0.2.50",
                HTTP_X_FORWARDED_FOR=f"203.0.113.{i % 250}",
            )
        # when
        response = client.post(
            "/login/",
            {"username": "another@acme.test", "password": "wrong"},
            REMOTE_ADDR="192.0.2.50",
            HTTP_X_FORWARDED_FOR="203.0.113.251",
        )
    # then: the address that counts is the connection's, whatever the header says
    assert response.status_code == 429


def test_login_unlock_needs_an_account_or_an_address(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("login_unlock")


def test_a_refused_attempt_is_not_recorded_and_checks_no_password(client, alice):
    with time_machine.travel(NOW, tick=False):
        for _ in range(5):
            _login(client, "alice@acme.test", "wrong")
        recorded = LoginAttempt.objects.count()
        for _ in range(20):
            assert _login(client, "alice@acme.test", "wrong").status_code == 429
        assert LoginAttempt.objects.count() == recorded == 5


MIXED = [
    "ALICE@ACME.TEST",
    " alice@acme.test ",
    FULL_WIDTH_ALICE,
    "Alice@Acme.Test",
    "alice@acme.test",
]


@pytest.mark.parametrize(
    "spellings",
    [
        MIXED,
        [FULL_WIDTH_ALICE.upper()] * 5,
        ["alice@acme.test\u3000"] * 5,  # an ideographic space after the address
    ],
    ids=["mixed", "full-width-upper", "ideographic-space"],
)
def test_look_alike_spellings_of_an_address_share_one_lock(client, alice, spellings):
    with time_machine.travel(NOW, tick=False):
        statuses = [_login(client, s, "wrong").status_code for s in spellings]
        assert statuses[-1] == 429
        assert _login(client, "alice@acme.test").status_code == 429
    assert set(LoginAttempt.objects.values_list("username", flat=True)) == {"alice@acme.test"}


def test_a_look_alike_that_is_no_account_never_signs_in_as_that_account(client, alice):
    # On PostgreSQL email__iexact matches the dotless i to "i": the spelling must not sign in
    # (it would otherwise be a second account key with its own five attempts).
    assert find_user(DOTLESS_ALICE) is None
    response = _login(client, DOTLESS_ALICE)
    assert response.status_code == 200 and not _signed_in(client)
    # ... whereas the full-width spelling is the same account, and the same key.
    assert find_user(FULL_WIDTH_ALICE) == alice
    assert account_key(FULL_WIDTH_ALICE, alice) == account_key("alice@acme.test", alice)
    assert _login(client, FULL_WIDTH_ALICE).status_code == 302 and _signed_in(client)


def test_normalisation_is_case_folded_nfkc_and_trimmed():
    assert normalise_login("  \uff21\uff24\uff2d\uff29\uff2e@Example.COM \t") == "admin@example.com"
    assert normalise_login("STRASSE@x.de") == normalise_login("straße@x.de")
    assert normalise_login(DOTLESS_ALICE) != "alice@acme.test"


def test_a_username_signs_in_to_the_same_account_key_as_its_email(client, db):
    root = UserFactory(username="root", email="ops@acme.test", is_staff=True, is_superuser=True)
    assert account_key("ROOT", find_user("ROOT")) == account_key("ops@acme.test", root)


def test_a_success_clears_the_accounts_failures_but_not_the_addresss(client, alice):
    with time_machine.travel(NOW, tick=False):
        for _ in range(4):
            _login(client, "alice@acme.test", "wrong", ip="203.0.113.5")
        assert _login(client, "alice@acme.test", ip="203.0.113.5").status_code == 302
        client.logout()
        for _ in range(4):
            assert _login(client, "alice@acme.test", "wrong", ip="203.0.113.5").status_code == 200
    assert LoginAttempt.objects.filter(ip_address="203.0.113.5").count() == 4
    # the address's earlier four failures were not forgotten with the account's
    assert LoginAttempt.objects.filter(username="alice@acme.test").count() == 4


@pytest.fixture
def operator(db):
    return UserFactory(email="ops@quotient.test", is_staff=True, is_superuser=True)


def test_the_django_admin_sign_in_has_the_same_limit(client, operator):
    with time_machine.travel(NOW, tick=False):
        statuses = [
            _login(client, "ops@quotient.test", "wrong", path="/django-admin/login/").status_code
            for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 200, 429]
        refused = _login(client, "ops@quotient.test", path="/django-admin/login/")
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert b"Too many failed sign-in attempts" in refused.content
        assert not _signed_in(client)
        # and it is one account: its lock holds on /login/ too
        assert _login(client, "ops@quotient.test").status_code == 429


def test_the_django_admin_sign_in_works_for_an_operator(client, operator):
    response = _login(client, "ops@quotient.test", path="/django-admin/login/")
    assert response.status_code == 302 and _signed_in(client)


def test_login_unlock_lifts_a_lock_before_the_window_ends(client, alice):
    with time_machine.travel(NOW, tick=False):
        for _ in range(5):
            _login(client, "alice@acme.test", "wrong")
        assert _login(client, "alice@acme.test").status_code == 429
        call_command("login_unlock", "ALICE@acme.test")
        assert _login(client, "alice@acme.test").status_code == 302


def test_login_unlock_by_address(client, alice, bob, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    with time_machine.travel(NOW, tick=False):
        for i in range(3):
            _login(client, f"x{i}@acme.test", "wrong", ip="192.0.2.50")
        assert _login(client, "bob@acme.test", ip="192.0.2.50").status_code == 429
        call_command("login_unlock", "--ip", "192.0.2.50")
        assert _login(client, "bob@acme.test", ip="192.0.2.50").status_code == 302


# --- password reset -------------------------------------------------------------------------------


def _reset(client, email, ip="10.0.0.1"):
    return client.post("/password-reset/", {"email": email}, REMOTE_ADDR=ip)


def test_password_reset_is_throttled_per_address(client, alice, settings, mailoutbox):
    with time_machine.travel(NOW, tick=False) as traveller:
        statuses = [
            _reset(client, spelling, ip=f"10.1.0.{i}").status_code
            for i, spelling in enumerate(
                ["alice@acme.test", "ALICE@acme.test", " alice@acme.test", "alice@acme.test"]
            )
        ]
        assert statuses == [302, 302, 302, 429]
        assert len(mailoutbox) == settings.PASSWORD_RESET_LIMIT == 3
        refused = _reset(client, "alice@acme.test", ip="10.1.0.9")
        assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
        assert b"Too many password reset requests" in refused.content
        traveller.shift(dt.timedelta(seconds=settings.PASSWORD_RESET_WINDOW_SECONDS + 1))
        assert _reset(client, "alice@acme.test").status_code == 302
        assert len(mailoutbox) == 4


def test_password_reset_is_throttled_per_client_address(client, alice, settings, mailoutbox):
    with time_machine.travel(NOW, tick=False):
        for i in range(settings.PASSWORD_RESET_IP_LIMIT):
            assert _reset(client, f"who{i}@example.com", ip="192.0.2.77").status_code == 302
        assert _reset(client, "alice@acme.test", ip="192.0.2.77").status_code == 429
        assert _reset(client, "alice@acme.test", ip="192.0.2.78").status_code == 302
    assert len(mailoutbox) == 1


def test_an_unknown_address_is_throttled_like_a_known_one(client, db, mailoutbox):
    # The limit must not tell whether an account exists.
    with time_machine.travel(NOW, tick=False):
        statuses = [_reset(client, "nobody@example.com").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert mailoutbox == []
    assert set(LoginAttempt.objects.values_list("kind", flat=True)) == {AttemptKind.PASSWORD_RESET}


@override_settings(SITE_URL="http://127.0.0.1:9123")
def test_password_reset_links_use_site_url_not_the_request_host(client, alice, mailoutbox):
    _reset(client, "alice@acme.test")
    assert re.search(r"http://127\.0\.0\.1:9123/reset/\S+", mailoutbox[0].body)


@pytest.fixture
def committed_user(django_db_setup, django_db_blocker):
    """A user committed for real, so threads with their own connections see it."""
    with django_db_blocker.unblock():
        user = UserFactory(email="burst@acme.test")
        user.set_password("right-password")
        user.save()
        try:
            yield user
        finally:
            from core.tenancy import dangerously_unscoped

            LoginAttempt.objects.filter(username=account_key("burst@acme.test", user)).delete()
            with dangerously_unscoped():
                user.delete()


@pytest.mark.needs_pg
def test_a_burst_of_parallel_wrong_passwords_records_no_more_than_the_limit(
    committed_user, django_db_blocker, settings
):
    import threading

    from django.core.exceptions import PermissionDenied
    from django.db import connection

    from core.auth import EmailBackend

    # given
    attempts, barrier, outcomes = 12, threading.Barrier(12), []

    def attempt() -> None:
        barrier.wait()
        try:
            outcomes.append(EmailBackend().authenticate(None, "burst@acme.test", "wrong"))
        except PermissionDenied:
            outcomes.append("refused")
        finally:
            connection.close()

    # when
    with django_db_blocker.unblock():
        threads = [threading.Thread(target=attempt) for _ in range(attempts)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        recorded = LoginAttempt.objects.filter(
            kind=AttemptKind.LOGIN_FAILURE,
            username=account_key("burst@acme.test", committed_user),
        ).count()
    # then: the checks took turns, so exactly the limit was recorded and the rest refused
    assert recorded == settings.LOGIN_FAILURE_LIMIT
    assert outcomes.count("refused") == attempts - settings.LOGIN_FAILURE_LIMIT
