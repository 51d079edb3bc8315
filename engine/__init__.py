"""Quotient's calculation engine: pure Python + pandas, no Django, no database.

Public API (everything else is an implementation detail):

* :func:`compute` - inputs snapshot -> :class:`Result` (lines, traces, contributions, hash).
* :func:`parse_plan`, :func:`load_plan`, :func:`validate_plan` - the plan language.
* :func:`plan_json_schema` - the JSON Schema of the plan language.
* :mod:`engine.crediting` - transactions -> credits; :mod:`engine.nudges` - nudges, forecasts.
* :mod:`engine.money` - the only rounding code.
* :mod:`engine.phases` - the same calculation per person chunk, every phase's output a plain
  table that can be stored between steps (``run_in_chunks`` and its steps).
"""

from __future__ import annotations

from engine.pipeline import InputError, compute
from engine.schema import plan_json_schema
from engine.spec import Plan, PlanValidationError, load_plan, parse_plan, validate_plan
from engine.types import Inputs, PayoutLine, Period, Result, Trace

__all__ = [
    "InputError",
    "Inputs",
    "PayoutLine",
    "Period",
    "Plan",
    "PlanValidationError",
    "Result",
    "Trace",
    "compute",
    "load_plan",
    "parse_plan",
    "plan_json_schema",
    "validate_plan",
]
