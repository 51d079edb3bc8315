"""The container's own health check: ``python -m core.healthcheck`` (docker-compose.yml).

It asks ``/healthz`` on the local port with a ``Host`` header the site accepts: Django answers a
host outside ``ALLOWED_HOSTS`` with 400 before any view runs, and the container reaches itself as
127.0.0.1, which a production ``ALLOWED_HOSTS`` rarely lists. Exit status 0 when healthy, 1 when
not (503, refused connection, timeout), as Docker expects. Standard library only, no Django.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe_host(allowed_hosts: str) -> str:
    """A Host header that ``allowed_hosts`` (the ALLOWED_HOSTS variable) accepts."""
    for entry in (part.strip() for part in allowed_hosts.split(",")):
        if entry and entry != "*":
            return entry.lstrip(".")  # ".example.com" allows example.com itself
    return "localhost"


def main() -> int:
    port = os.environ.get("PORT", "8000")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz",
        headers={"Host": probe_host(os.environ.get("ALLOWED_HOSTS", ""))},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local http)
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        sys.stderr.write(f"unhealthy: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
