"""Create the owner role, the application role and the database from an admin URL.

    manage.py db_bootstrap --admin-url postgres://postgres@127.0.0.1:5432/postgres

Reads the two roles from DATABASE_OWNER_URL (owns the schema, runs migrations, may create test
databases) and DATABASE_URL (the application: LOGIN only; NOSUPERUSER, NOBYPASSRLS, owns
nothing). Safe to run again: existing roles get their password and attributes re-set.
"""

from __future__ import annotations

from typing import Any

import psycopg2
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from psycopg2 import sql


class Command(BaseCommand):
    help = "Create the PostgreSQL owner and app roles and the database (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--admin-url",
            required=True,
            help="a superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app = settings.DATABASES["default"]
        owner = getattr(settings, "DATABASE_OWNER", None)
        if app["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("DATABASE_URL is not a PostgreSQL URL; nothing to bootstrap.")
        if not owner:
            raise CommandError("Set DATABASE_OWNER_URL: migrations run as that role.")
        if owner["USER"] == app["USER"]:
            raise CommandError("DATABASE_URL and DATABASE_OWNER_URL must use different roles.")
        conn = psycopg2.connect(options["admin_url"])
        conn.autocommit = True
        with conn.cursor() as cur:
            self._role(
                cur, str(owner["USER"]), str(owner.get("PASSWORD") or ""), "NOSUPERUSER CREATEDB"
            )
            self._role(
                cur,
                str(app["USER"]),
                str(app.get("PASSWORD") or ""),
                "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
            )
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [app["NAME"]])
            if cur.fetchone() is None:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(app["NAME"]), sql.Identifier(owner["USER"])
                    )
                )
                self.stdout.write(f"created database {app['NAME']}")
            else:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(app["NAME"]), sql.Identifier(owner["USER"])
                    )
                )
            cur.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(app["NAME"]), sql.Identifier(app["USER"])
                )
            )
        conn.close()
        # Inside the database: the owner owns the public schema; the app may only use it.
        admin_db = psycopg2.connect(options["admin_url"].rsplit("/", 1)[0] + "/" + app["NAME"])
        admin_db.autocommit = True
        with admin_db.cursor() as cur:
            cur.execute(
                sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner["USER"]))
            )
            cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            cur.execute(
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(app["USER"]))
            )
        admin_db.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"roles {owner['USER']} (owner) and {app['USER']} (app) and database "
                f"{app['NAME']} are ready; now run: manage.py migrate"
            )
        )

    def _role(self, cur: Any, name: str, password: str | None, attrs: str) -> None:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        verb = "ALTER" if cur.fetchone() else "CREATE"
        statement = sql.SQL(f"{verb} ROLE {{}} LOGIN {attrs}").format(sql.Identifier(name))
        if password:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
        cur.execute(statement)
        self.stdout.write(f"{verb.lower()}d role {name}")
