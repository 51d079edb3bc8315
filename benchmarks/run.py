"""Run benchmarks: ``python -m benchmarks.run [NAME]``.

With no NAME every benchmark whose ``IN_ALL`` is true runs, each in its own process so that
peak memory is its own. Exit status is non-zero if any benchmark fails.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import benchmarks
from benchmarks.harness import emit


def discover() -> dict[str, ModuleType]:
    """Return every benchmark module by its NAME."""
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules([str(Path(benchmarks.__file__).parent)]):
        if info.name in {"harness", "run"} or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            found[module.NAME] = module
    return found


def main(argv: list[str]) -> int:
    """Run one benchmark in this process, or all of them in child processes."""
    modules = discover()
    if argv and argv[0] == "--one":
        name = argv[1]
        emit(name, modules[name].run())
        return 0
    if argv:
        names = argv
        unknown = [n for n in names if n not in modules]
        if unknown:
            sys.stderr.write(
                f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(sorted(modules))}\n"
            )
            return 2
    else:
        names = sorted(n for n, m in modules.items() if getattr(m, "IN_ALL", True))
    failed = []
    for name in names:
        code = subprocess.call([sys.executable, "-m", "benchmarks.run", "--one", name])
        if code:
            failed.append(name)
    if failed:
        sys.stderr.write(f"failed: {', '.join(failed)}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
