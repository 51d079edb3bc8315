"""Benchmarks: each module here with a ``NAME`` and a ``run() -> dict`` is one benchmark."""
