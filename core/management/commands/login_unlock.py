"""Lift a sign-in lock before its window ends (platform operation).

manage.py login_unlock alice@acme.test      # an account (any spelling of its e-mail)
manage.py login_unlock --ip 192.0.2.7       # a client address
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.auth import account_key, find_user, login_unlock


class Command(BaseCommand):
    help = "Forget the failed sign-ins of an account and/or a client address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", nargs="?", help="an e-mail address or username")
        parser.add_argument("--ip", help="a client address")

    def handle(self, *args: Any, **options: Any) -> None:
        account, ip = options.get("account"), options.get("ip")
        if not account and not ip:
            raise CommandError("name an account, an --ip, or both")
        key = account_key(account, find_user(account)) if account else None
        removed = login_unlock(key=key, ip=ip)
        self.stdout.write(f"removed {removed} failed sign-in(s)")
