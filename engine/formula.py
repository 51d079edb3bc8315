"""Formulas: arithmetic over measures, KPI values, quotas and constants, never ``eval``.

Contract:

* :func:`parse` turns a formula's text into a tree with a small tokenizer and a
  recursive-descent parser, or raises :class:`FormulaError` naming the 1-based character
  position: ``unexpected ')' at character 14``. The grammar::

      expr    := or
      or      := and ("or" and)*
      and     := not ("and" not)*
      not     := "not" not | compare
      compare := sum (("<=" | "<" | ">=" | ">" | "==" | "!=") sum)?
      sum     := product (("+" | "-") product)*
      product := unary (("*" | "/") unary)*
      unary   := ("-" | "+") unary | atom
      atom    := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

  Functions: ``min(a, b, ...)``, ``max(a, b, ...)``, ``abs(x)``, ``clamp(x, low, high)``,
  ``if(condition, then, else)``, and the look-ups ``quota(id)`` (the segment's pro-rated
  quota) and ``kpi(name)`` (a KPI value of the holder). A bare name is a measure of the plan
  or ``target_incentive`` (the segment's pro-rated target incentive).
* :func:`check` resolves names and types once, when the plan is parsed: every figure is
  ``money``, ``ratio`` or ``count``, and a number written in the formula (or a KPI value
  read with ``kpi()``) is a plain ``number`` that takes the unit of what it meets.
  ``money + money`` is money, ``money x money`` is an error, ``money / money`` is a ratio,
  ``money x ratio`` and ``money / count`` are money, ``count / count`` is a ratio, a number
  divided by money is an error; ``min``, ``max``, ``clamp`` and both branches of ``if`` need
  one unit. An unknown name, a wrong unit or a wrong number of arguments is one
  :class:`FormulaError` with the character position.
* :func:`evaluate` works in exact Decimals (the engine's 50-digit context: ``+ - *`` are
  exact, a division is exact to 50 significant digits) and records every sub-result as a
  step ``(name, exact value, words)`` in plain words. A division by zero, or a name without a value
  (a ratio whose denominator is zero, a missing KPI or quota), gives the formula no value
  (``None``), like a ratio with a zero denominator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from engine.money import add, div, mul, sub

Unit = Literal["money", "ratio", "count", "number", "bool"]
UNITS: Final = ("money", "ratio", "count")
"""The units a measure can declare; ``number`` is a constant's, ``bool`` a condition's."""

FUNCTIONS: Final = ("min", "max", "abs", "clamp", "if", "quota", "kpi")
_COMPARE: Final = ("<=", "<", ">=", ">", "==", "!=")
_WORDS: Final = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}
_CMP_WORDS: Final = {
    "<=": "is at most",
    "<": "is below",
    ">=": "is at least",
    ">": "is above",
    "==": "equals",
    "!=": "differs from",
}


class FormulaError(ValueError):
    """A formula that cannot be read or does not type-check; ``position`` is 1-based."""

    def __init__(self, message: str, position: int) -> None:
        self.message = message
        self.position = position
        super().__init__(f"{message} at character {position}")


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class Num:
    """A number written in the formula."""

    value: Decimal
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Name:
    """A measure of the plan, or ``target_incentive``."""

    id: str
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Call:
    """A function call: ``min``, ``max``, ``abs``, ``clamp``, ``if``, ``quota``, ``kpi``."""

    fn: str
    args: tuple[Node, ...]
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x``, ``+x`` or ``not x``."""

    op: str
    arg: Node
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Binary:
    """An arithmetic, comparison or logical operator with two operands."""

    op: str
    left: Node
    right: Node
    pos: int
    text: str


Node = Num | Name | Call | Unary | Binary


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed formula: its text and tree, plus (after :func:`check`) its unit and names."""

    source: str
    tree: Node
    unit: Unit = "number"
    measures: tuple[str, ...] = ()
    """The measures it reads, in order of first use."""
    units: Mapping[int, Unit] = field(default_factory=dict, compare=False, hash=False)
    """The unit of every node, by its (unique) character position."""


# --------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["num", "name", "op", "end"]
    text: str
    pos: int  # 0-based offset


def _tokens(source: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and source[i + 1].isdigit()):
            j = i
            while j < n and (source[j].isdigit() or source[j] == "_"):
                j += 1
            if j < n and source[j] == ".":
                j += 1
                while j < n and source[j].isdigit():
                    j += 1
            if j < n and (source[j].isalpha() or source[j] == "."):
                raise FormulaError(f"unexpected {source[j]!r} after a number", j + 1)
            out.append(_Token("num", source[i:j], i))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i
            while j < n and (source[j].isalnum() or source[j] in "_."):
                j += 1
            out.append(_Token("name", source[i:j], i))
            i = j
        elif source.startswith(("<=", ">=", "==", "!="), i):
            out.append(_Token("op", source[i : i + 2], i))
            i += 2
        elif ch in "+-*/(),<>":
            out.append(_Token("op", ch, i))
            i += 1
        else:
            raise FormulaError(f"unexpected character {ch!r}", i + 1)
    out.append(_Token("end", "", n))
    return out


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.i = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def fail(self, tok: _Token, expected: str = "") -> FormulaError:
        what = "end of the formula" if tok.kind == "end" else repr(tok.text)
        tail = f", expected {expected}" if expected else ""
        return FormulaError(f"unexpected {what}{tail}", tok.pos + 1)

    def take(self, text: str) -> bool:
        if self.tok.kind in ("op", "name") and self.tok.text == text:
            self.i += 1
            return True
        return False

    def span(self, start: int) -> str:
        end = self.tokens[self.i - 1]
        return self.source[start : end.pos + len(end.text)].strip()

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise FormulaError("the formula is empty", 1)
        node = self.logical_or()
        rest = self.tokens[self.i]
        if rest.kind != "end":
            raise self.fail(rest, "an operator")
        return node

    def binary(self, ops: tuple[str, ...], sub: Callable[[], Node], *, once: bool = False) -> Node:
        start = self.tok.pos
        node = sub()
        while self.tok.text in ops and self.tok.kind in ("op", "name"):
            op_tok = self.tok
            self.i += 1
            right = sub()
            node = Binary(op_tok.text, node, right, op_tok.pos + 1, self.span(start))
            if once:
                if self.tok.text in ops and self.tok.kind == "op":
                    raise FormulaError(
                        "comparisons cannot be chained; join them with and", self.tok.pos + 1
                    )
                break
        return node

    def logical_or(self) -> Node:
        return self.binary(("or",), self.logical_and)

    def logical_and(self) -> Node:
        return self.binary(("and",), self.logical_not)

    def logical_not(self) -> Node:
        start = self.tok
        if self.take("not"):
            arg = self.logical_not()
            return Unary("not", arg, start.pos + 1, self.span(start.pos))
        return self.compare()

    def compare(self) -> Node:
        return self.binary(_COMPARE, self.sum, once=True)

    def sum(self) -> Node:
        return self.binary(("+", "-"), self.product)

    def product(self) -> Node:
        return self.binary(("*", "/"), self.unary)

    def unary(self) -> Node:
        start = self.tok
        if start.kind == "op" and start.text in ("-", "+"):
            self.i += 1
            arg = self.unary()
            return Unary(start.text, arg, start.pos + 1, self.span(start.pos))
        return self.atom()

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "num":
            self.i += 1
            return Num(Decimal(tok.text.replace("_", "")), tok.pos + 1, tok.text)
        if tok.kind == "name" and tok.text not in ("and", "or", "not"):
            self.i += 1
            if not self.take("("):
                return Name(tok.text, tok.pos + 1, tok.text)
            args = [self.logical_or()]
            while self.take(","):
                args.append(self.logical_or())
            if not self.take(")"):
                raise self.fail(self.tok, "',' or ')'")
            return Call(tok.text, tuple(args), tok.pos + 1, self.span(tok.pos))
        if self.take("("):
            node = self.logical_or()
            if not self.take(")"):
                raise self.fail(self.tok, "')'")
            return node
        raise self.fail(tok, "a number, a name or '('")


def parse(source: str) -> Formula:
    """Return the parsed formula ``source``; raise FormulaError with the character position."""
    return Formula(source, _Parser(source).parse())


# --------------------------------------------------------------------------- types


def _join(a: Unit, b: Unit, what: str, pos: int) -> Unit:
    """Return the unit of two figures that must share one (``+``, ``-``, min, comparisons)."""
    if a == "bool" or b == "bool":
        raise FormulaError(f"{what} needs numbers, not a condition", pos)
    if a == b:
        return a
    if a == "number":
        return b
    if b == "number":
        return a
    if "money" in (a, b):
        raise FormulaError(f"{what} mixes money and a {a if b == 'money' else b}", pos)
    return "ratio"  # a count with a ratio


def _product(op: str, a: Unit, b: Unit, pos: int) -> Unit:
    if a == "bool" or b == "bool":
        raise FormulaError(f"'{op}' needs numbers, not a condition", pos)
    if op == "*":
        if a == b == "money":
            raise FormulaError("money times money has no meaning", pos)
        if "money" in (a, b):
            return "money"
        if a == b:
            return a
        if "number" in (a, b):
            return a if b == "number" else b
        return "ratio"
    if b == "money":
        if a != "money":
            raise FormulaError(f"a {a} divided by money has no meaning", pos)
        return "ratio"
    if a == "money":
        return "money"
    if a == b == "number":
        return "number"
    if a == "count" and b == "number":
        return "count"
    return "ratio"


def _type(node: Node, units: Callable[[Name], Unit], seen: dict[int, Unit]) -> Unit:
    unit = _type_of(node, units, seen)
    seen[node.pos] = unit
    return unit


def _type_of(node: Node, units: Callable[[Name], Unit], measures: dict[int, Unit]) -> Unit:
    if isinstance(node, Num):
        return "number"
    if isinstance(node, Name):
        return units(node)
    if isinstance(node, Unary):
        inner = _type(node.arg, units, measures)
        if node.op == "not":
            if inner != "bool":
                raise FormulaError("'not' needs a condition", node.pos)
            return "bool"
        if inner == "bool":
            raise FormulaError(f"'{node.op}' needs a number, not a condition", node.pos)
        return inner
    if isinstance(node, Binary):
        left = _type(node.left, units, measures)
        right = _type(node.right, units, measures)
        if node.op in ("and", "or"):
            if left != "bool" or right != "bool":
                raise FormulaError(f"'{node.op}' joins conditions such as a >= b", node.pos)
            return "bool"
        if node.op in _COMPARE:
            _join(left, right, f"'{node.op}'", node.pos)
            return "bool"
        if node.op in ("+", "-"):
            return _join(left, right, f"'{node.op}'", node.pos)
        return _product(node.op, left, right, node.pos)
    return _call_type(node, units, measures)


def _call_type(node: Call, units: Callable[[Name], Unit], measures: dict[int, Unit]) -> Unit:
    fn, args = node.fn, node.args
    arity = {"abs": 1, "clamp": 3, "if": 3, "quota": 1, "kpi": 1}
    if fn not in FUNCTIONS:
        raise FormulaError(f"unknown function {fn!r} (known: {', '.join(FUNCTIONS)})", node.pos)
    if fn in ("min", "max") and len(args) < 2:
        raise FormulaError(f"{fn}() needs at least two arguments", node.pos)
    if fn in arity and len(args) != arity[fn]:
        raise FormulaError(f"{fn}() takes {arity[fn]} argument(s), not {len(args)}", node.pos)
    if fn in ("quota", "kpi"):
        if not isinstance(args[0], Name):
            raise FormulaError(f"{fn}() takes a {fn} id, such as {fn}(bookings)", node.pos)
        return "money" if fn == "quota" else "number"
    kinds = [_type(a, units, measures) for a in args]
    if fn == "if":
        if kinds[0] != "bool":
            raise FormulaError("if() needs a condition first, such as a >= b", node.pos)
        return _join(kinds[1], kinds[2], "if()", node.pos)
    unit = kinds[0]
    for k in kinds[1:]:
        unit = _join(unit, k, f"{fn}()", node.pos)
    if unit == "bool":
        raise FormulaError(f"{fn}() needs numbers, not a condition", node.pos)
    return unit


def check(
    formula: Formula,
    units: Mapping[str, Unit],
    *,
    known: str = "not a measure of this plan, nor target_incentive",
    functions: tuple[str, ...] = FUNCTIONS,
) -> Formula:
    """Return ``formula`` with its unit and the measures it reads; ``units`` names every name.

    ``units`` maps each measure of the plan (and ``target_incentive``) to its unit; a name
    not in it is an unknown name (``known`` says what may be named instead). ``functions``
    limits the functions allowed (a pool formula has no quota).
    """
    used: list[str] = []
    for call in _calls(formula.tree):
        if call.fn in FUNCTIONS and call.fn not in functions:
            raise FormulaError(f"{call.fn}() cannot be used here ({known})", call.pos)

    def unit_of(name: Name) -> Unit:
        if name.id not in units:
            raise FormulaError(f"unknown name {name.id!r} ({known})", name.pos)
        if name.id not in used:
            used.append(name.id)
        return units[name.id]

    seen: dict[int, Unit] = {}
    unit = _type(formula.tree, unit_of, seen)
    if unit == "bool":
        raise FormulaError("a formula must give a number, not a condition", 1)
    return Formula(formula.source, formula.tree, unit, tuple(used), seen)


def settle(formula: Formula, unit: Unit) -> Formula:
    """Return ``formula`` giving ``unit``, its plain numbers taking the unit of what they meet.

    In ``bookings * 0.05 + if(deals >= 10, 500, 0)`` the 500 and the 0 are money (they are
    added to money), the 10 is a count and the 0.05 stays a plain number.
    """
    seen = dict(formula.units)

    def push(node: Node, want: Unit) -> None:
        current = seen.get(node.pos, "number")
        if current == "number" and want not in ("number", "bool"):
            seen[node.pos] = current = want
        if isinstance(node, Unary):
            push(node.arg, "bool" if node.op == "not" else current)
        elif isinstance(node, Binary):
            left, right = seen.get(node.left.pos, "number"), seen.get(node.right.pos, "number")
            if node.op in ("+", "-"):
                push(node.left, current)
                push(node.right, current)
            elif node.op in _COMPARE:
                both = right if left == "number" else left
                push(node.left, both)
                push(node.right, both)
            else:
                push(node.left, left)
                push(node.right, right)
        elif isinstance(node, Call) and node.fn not in ("quota", "kpi"):
            if node.fn == "if":
                push(node.args[0], "bool")
                push(node.args[1], current)
                push(node.args[2], current)
            else:
                for a in node.args:
                    push(a, current)

    push(formula.tree, unit)
    return Formula(formula.source, formula.tree, unit, formula.measures, seen)


def _calls(node: Node) -> list[Call]:
    if isinstance(node, Call):
        return [node, *(c for a in node.args for c in _calls(a))]
    if isinstance(node, Unary):
        return _calls(node.arg)
    if isinstance(node, Binary):
        return _calls(node.left) + _calls(node.right)
    return []


def names(node: Node) -> list[str]:
    """Return the bare names a tree reads (measures and ``target_incentive``), in order."""
    out: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            if n.id not in out:
                out.append(n.id)
        elif isinstance(n, Unary):
            walk(n.arg)
        elif isinstance(n, Binary):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Call) and n.fn not in ("quota", "kpi"):
            for a in n.args:
                walk(a)

    walk(node)
    return out


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Env:
    """What a formula reads: finished measures, pro-rated quotas, KPI values, TI."""

    measures: Mapping[str, Decimal | None]
    quota: Callable[[str], Decimal | None] = lambda _: None
    kpi: Callable[[str], Decimal | None] = lambda _: None
    target_incentive: Decimal | None = None


class _NoValueError(Exception):
    """A figure has no value (a zero division, a missing KPI): so has the formula."""

    def __init__(self, why: str) -> None:
        self.why = why


Formatter = Callable[[Decimal, Unit], str]
Step = tuple[str, str, str]
"""One sub-result: (name, exact value, plain words)."""


def plain_number(value: Decimal, unit: Unit) -> str:
    """Return a figure for reading without a currency: ``1234.5`` -> ``1,234.5``."""
    return f"{value.normalize():,f}"


@dataclass
class _Evaluator:
    env: Env
    units: Mapping[int, Unit]
    label: str
    fmt: Formatter
    steps: list[Step]
    shown: dict[tuple[int, Unit], tuple[Decimal, str]] = field(default_factory=dict)
    """``fmt`` of each value object once (a sub-result is written as a step, then read)."""

    def unit(self, node: Node) -> Unit:
        return self.units.get(node.pos, "number")

    def text(self, value: Decimal, unit: Unit) -> str:
        """Return ``fmt(value, unit)``, worked out once per value object and unit."""
        key = (id(value), unit)
        got = self.shown.get(key)
        if got is not None and got[0] is value:
            return got[1]
        out = self.fmt(value, unit)
        self.shown[key] = (value, out)  # the value kept: its id is not reused meanwhile
        return out

    def show(self, node: Node, value: Decimal | bool) -> str:
        """Return a figure for a sentence: a name with its value, a sub-result by its value."""
        if value is True or value is False:
            return "true" if value else "false"
        shown = self.text(value, self.unit(node))
        if isinstance(node, Name) or (isinstance(node, Call) and node.fn in ("quota", "kpi")):
            return f"{node.text} ({shown})"
        return shown

    def record(self, node: Node, value: Decimal | bool, words: str) -> None:
        text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        self.steps.append((f"{self.label}.{len(self.steps) + 1}", text, words))

    def num(self, node: Node) -> Decimal:
        value = self.eval(node)
        assert isinstance(value, Decimal)
        return value

    def eval(self, node: Node) -> Decimal | bool:
        if isinstance(node, Num):
            return node.value
        if isinstance(node, Binary):  # the commonest inner node: tested second
            return self.binary(node)
        if isinstance(node, Name):
            if node.id == "target_incentive":
                if self.env.target_incentive is None:
                    raise _NoValueError("there is no target incentive here")
                return self.env.target_incentive
            got = self.env.measures.get(node.id)
            if got is None:
                raise _NoValueError(f"{node.id} has no value")
            return got
        if isinstance(node, Unary):
            if node.op == "not":
                return not self.eval(node.arg)
            inner = self.num(node.arg)
            return -inner if node.op == "-" else inner
        return self.call(node)

    def binary(self, node: Binary) -> Decimal | bool:
        if node.op in ("and", "or"):
            left_b = self.eval(node.left)
            if (node.op == "and" and not left_b) or (node.op == "or" and left_b):
                return bool(left_b)
            return bool(self.eval(node.right))
        a, b = self.num(node.left), self.num(node.right)
        if node.op in _COMPARE:
            ok = {
                "<=": a <= b,
                "<": a < b,
                ">=": a >= b,
                ">": a > b,
                "==": a == b,
                "!=": a != b,
            }[node.op]
            self.record(
                node,
                ok,
                f"{self.show(node.left, a)} {_CMP_WORDS[node.op]} {self.show(node.right, b)}",
            )
            return ok
        if node.op == "+":
            out = add(a, b)
        elif node.op == "-":
            out = sub(a, b)
        elif node.op == "*":
            out = mul(a, b)
        else:
            if b == 0:
                raise _NoValueError(f"{node.text} divides by zero")
            out = div(a, b)
        words = f"{self.show(node.left, a)} {_WORDS[node.op]} {self.show(node.right, b)}"
        self.record(node, out, f"{words} = {self.text(out, self.unit(node))}")
        return out

    def call(self, node: Call) -> Decimal | bool:
        fn = node.fn
        if fn in ("quota", "kpi"):
            arg = node.args[0]
            assert isinstance(arg, Name)
            got = (self.env.quota if fn == "quota" else self.env.kpi)(arg.id)
            if got is None:
                raise _NoValueError(f"there is no {fn} {arg.id!r}")
            return got
        if fn == "if":
            cond = self.eval(node.args[0])
            branch = node.args[1] if cond else node.args[2]
            out = self.num(branch)
            words = (
                f"{node.args[0].text} is {'true' if cond else 'false'}, so {self.show(branch, out)}"
            )
            self.record(node, out, words)
            return out
        values = [self.num(a) for a in node.args]
        shown = ", ".join(self.show(a, v) for a, v in zip(node.args, values, strict=True))
        if fn == "abs":
            out = abs(values[0])
            words = f"the absolute value of {shown}"
        elif fn == "min":
            out = min(values)
            words = f"the smaller of {shown}"
        elif fn == "max":
            out = max(values)
            words = f"the larger of {shown}"
        else:  # clamp
            x, low, high = values
            if low > high:
                raise _NoValueError(f"{node.text}: the low bound is above the high bound")
            out = min(max(x, low), high)
            words = (
                f"{self.show(node.args[0], x)} kept between "
                f"{self.show(node.args[1], low)} and {self.show(node.args[2], high)}"
            )
        self.record(node, out, f"{words} = {self.text(out, self.unit(node))}")
        return out


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A formula's value (None: no value) and its sub-results in plain words."""

    value: Decimal | None
    steps: tuple[Step, ...]
    reason: str = ""
    """Why there is no value, when there is none."""


def evaluate(
    formula: Formula, env: Env, *, label: str = "formula", fmt: Formatter = plain_number
) -> Evaluation:
    """Return the exact value of ``formula`` in ``env`` and every sub-result as a step."""
    steps: list[Step] = []
    run = _Evaluator(env, formula.units, label, fmt, steps)
    try:
        value = run.num(formula.tree)
    except _NoValueError as exc:
        steps.append((label, "", f"{formula.source}: no value ({exc.why})"))
        return Evaluation(None, tuple(steps), exc.why)
    steps.append((label, str(value), f"{formula.source} = {run.text(value, formula.unit)}"))
    return Evaluation(value, tuple(steps))
