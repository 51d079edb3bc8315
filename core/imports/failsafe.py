"""Recording a failure so that it survives the failed work's rollback; pausing the GC.

:func:`run_apart` runs ``work`` (an idempotent write: "mark this batch failed") in a
transaction of its own. Outside any transaction that is simply a new one. Inside a caller's
transaction (a task wrapped in ``atomic``, a test) on PostgreSQL it runs on a connection of
its own (a short-lived thread: Django gives each thread its own connection, with the tenant
context copied) and commits there; and, when the caller's transaction is still usable, once
more in it, so the caller reads what it wrote.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.db import connection, connections, transaction

T = TypeVar("T")


def run_apart(work: Callable[[], T]) -> T | None:
    """Run ``work`` in a transaction of its own (see the module docstring); returns its
    result from the caller's connection when it ran there, else from the other one."""
    if not connection.in_atomic_block:
        with transaction.atomic():
            return work()
    result: T | None = None
    if connection.vendor == "postgresql":
        box: list[T] = []
        errors: list[BaseException] = []
        context = contextvars.copy_context()

        def apart() -> None:
            try:
                with transaction.atomic():
                    box.append(work())
            except BaseException as exc:  # reported on the caller's thread
                errors.append(exc)
            finally:
                connections.close_all()

        thread = threading.Thread(target=context.run, args=(apart,), name="import-failsafe")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        result = box[0] if box else None
    if not connection.needs_rollback:
        with transaction.atomic():
            result = work()
    return result


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a chunked import runs.

    An import allocates millions of short-lived containers (a list per record, a tuple per
    valid row) and almost no reference cycles; each allocation burst triggers collections
    that scan every live object. Memory stays bounded by the chunk (reference counting frees
    it); whatever cycles there are go at the first collection after the import. Measured:
    reading 300,000 rows into column chunks 12.9 s -> 8.8 s on the loaded machine.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
