"""Create the owner role, the application role and the database from an admin URL.

    manage.py db_bootstrap --admin-url postgres://postgres@127.0.0.1:5432/postgres

Reads the two roles from DATABASE_OWNER_URL (owns the schema, runs migrations, may create test
databases) and DATABASE_URL (the application: LOGIN only; NOSUPERUSER, NOBYPASSRLS, owns
nothing, ``statement_timeout`` = DATABASE_STATEMENT_TIMEOUT by default). Safe to run again:
existing roles get their password and attributes re-set.

``--recreate-stale`` (``make db`` passes it) drops and recreates the database when its migration
history no longer matches the migration files: a migration recorded as applied that no longer
exists, or an applied one whose dependency is not applied. That happens once when initial
migrations are regenerated before a release (see docs/architecture.md, "Migrations"); a database
whose history matches is never touched.
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
        parser.add_argument(
            "--recreate-stale",
            action="store_true",
            help="drop and recreate the database when its migration history no longer matches",
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
            # The app role's default, for sessions that pass no options (psql, a shell); the
            # app's own connections set DATABASE_STATEMENT_TIMEOUT themselves.
            timeout_ms = max(0, settings.DATABASE_STATEMENT_TIMEOUT) * 1000
            cur.execute(
                sql.SQL("ALTER ROLE {} SET statement_timeout = {}").format(
                    sql.Identifier(str(app["USER"])), sql.Literal(timeout_ms)
                )
            )
            self.stdout.write(f"statement_timeout of role {app['USER']}: {timeout_ms} ms")
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [app["NAME"]])
            exists = cur.fetchone() is not None
            if exists and options["recreate_stale"]:
                reason = self._stale_reason(options["admin_url"], str(app["NAME"]))
                if reason:
                    self.stdout.write(
                        self.style.WARNING(f"recreating database {app['NAME']}: {reason}")
                    )
                    cur.execute(
                        sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(app["NAME"]))
                    )
                    exists = False
            if not exists:
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

    def _stale_reason(self, admin_url: str, name: str) -> str | None:
        """Return why the database's migration history no longer matches the files, or None."""
        from django.db.migrations.loader import MigrationLoader

        db = psycopg2.connect(admin_url.rsplit("/", 1)[0] + "/" + name)
        try:
            with db.cursor() as cur:
                cur.execute("SELECT to_regclass('public.django_migrations') IS NOT NULL")
                (has_table,) = cur.fetchone()
                if not has_table:
                    return None
                cur.execute("SELECT app, name FROM django_migrations")
                applied = {(app, mig) for app, mig in cur.fetchall()}
        finally:
            db.close()
        disk = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
        local = {app for app, _ in disk}
        for key in sorted(applied):
            if key[0] in local and key not in disk:
                return f"migration {key[0]}.{key[1]} is applied but no longer exists"
        for key in sorted(applied & set(disk)):
            for dep in disk[key].dependencies:
                if dep[0] in local and dep[1] != "__first__" and tuple(dep) not in applied:
                    return (
                        f"{key[0]}.{key[1]} is applied but its dependency {dep[0]}.{dep[1]} is not"
                    )
        return None

    def _role(self, cur: Any, name: str, password: str | None, attrs: str) -> None:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        verb = "ALTER" if cur.fetchone() else "CREATE"
        statement = sql.SQL(f"{verb} ROLE {{}} LOGIN {attrs}").format(sql.Identifier(name))
        if password:
            statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
        cur.execute(statement)
        self.stdout.write(f"{verb.lower()}d role {name}")
