"""Plan validation with precise, human-readable errors.

`PlanChecker` checks calls one at a time, as they stream in, so the scheduler can
refuse a bad call before running anything that depends on it; `validate_plan` runs it
over a whole plan text and never raises, whatever the input."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from shared import catalog
from shared.catalog import ParamType
from shared.plan import REF_RE, Call, PlanSyntaxError, Value, parse_line

DEFAULT_MAX_CALLS = 20
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@dataclass(frozen=True)
class PlanError:
    """One problem, located by plan line and call number where known."""

    message: str
    call: int | None = None
    tool: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = []
        if self.call is not None:
            where.append(f"call {self.call}" + (f" ({self.tool})" if self.tool else ""))
        elif self.line is not None:
            where.append(f"line {self.line}")
        return (": ".join(where) + ": " if where else "") + self.message


@dataclass
class ValidationResult:
    calls: list[Call] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def is_datetime(text: str) -> bool:
    if not _DATETIME_RE.match(text):
        return False
    try:
        dt.datetime.strptime(text, DATETIME_FORMAT)
    except ValueError:
        return False
    return True


def _is_ref_only(text: str) -> bool:
    return REF_RE.fullmatch(text.strip()) is not None


def check_args(call: Call) -> list[str]:
    """Type and value problems of one call's arguments against the catalog."""
    tool = catalog.BY_NAME[call.tool]
    problems: list[str] = []
    if len(call.args) != len(tool.params):
        names = ", ".join(p.name for p in tool.params)
        return [f"expected {len(tool.params)} arguments ({names}), got {len(call.args)}"]
    for pos, (param, value) in enumerate(zip(tool.params, call.args, strict=True), start=1):
        problem = _check_value(param, value)
        if problem:
            problems.append(f"argument {pos} ({param.name}) {problem}")
    return problems


def _check_value(param: catalog.Param, value: Value) -> str | None:
    t = param.type
    if value is None:
        # None means "not known" for strings and lists (executors read it as "" / []).
        return None if t in (ParamType.STR, ParamType.STR_LIST) else f"must be {t.value}, not None"
    if t is ParamType.STR:
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__} {value!r}"
        if _is_ref_only(value):
            return None  # a result known only at run time
        if param.datetime and not (value == "" and param.allow_empty) and not is_datetime(value):
            return f"must be a date and time 'YYYY-MM-DD HH:MM:SS', got {value!r}"
        if param.choices and value not in param.choices:
            return f"must be one of {', '.join(map(repr, param.choices))}, got {value!r}"
        return None
    if t is ParamType.INT:
        if type(value) is not int:
            return f"must be an integer, got {type(value).__name__} {value!r}"
        if param.int_range and not param.int_range[0] <= value <= param.int_range[1]:
            lo, hi = param.int_range
            return f"must be between {lo} and {hi}, got {value}"
        return None
    if t is ParamType.BOOL:
        return None if isinstance(value, bool) else f"must be True or False, got {value!r}"
    if not isinstance(value, list):
        return f"must be a list of strings, got {type(value).__name__} {value!r}"
    return None  # list items are strings by construction of the parser


class PlanChecker:
    """Checks a stream of calls as they arrive. `add` returns the new call's problems;
    `finish` returns the problems only the end can tell (no join, nothing at all)."""

    def __init__(self, max_calls: int = DEFAULT_MAX_CALLS) -> None:
        self.max_calls = max_calls
        self.last_idx = 0
        self.joined = False
        self.n_calls = 0  # excluding join

    def add(self, call: Call, line: int | None = None) -> list[PlanError]:
        errs: list[PlanError] = []

        def err(msg: str) -> None:
            errs.append(PlanError(msg, call.idx, call.tool, line))

        if self.joined:
            err("comes after join(); join() must be the last line")
        if call.idx != self.last_idx + 1:
            expected = self.last_idx + 1
            if call.idx <= self.last_idx:
                err(f"number {call.idx} repeats or goes backwards; expected {expected}")
            else:
                err(f"numbering gap: expected call {expected}, got {call.idx}")
        self.last_idx = max(self.last_idx, call.idx)
        if call.is_join:
            self.joined = True
            if call.args:
                err("join() takes no arguments")
            return errs
        self.n_calls += 1
        if self.n_calls == self.max_calls + 1:
            err(f"plan has more than {self.max_calls} calls")
        if call.tool not in catalog.BY_NAME:
            err(f"unknown tool {call.tool!r}")
            return errs
        for k in sorted(call.deps()):
            if k == call.idx:
                err(f"${k} refers to the call itself")
            elif k > call.idx:
                err(f"${k} refers to a later call")
            elif k < 1:
                err(f"${k} refers to no call (calls are numbered from 1)")
        for problem in check_args(call):
            err(problem)
        return errs

    def finish(self) -> list[PlanError]:
        if self.last_idx == 0:
            return [PlanError("plan is empty; even a plan that does nothing is '1. join()'")]
        if not self.joined:
            return [PlanError("plan does not end with join()")]
        return []


def validate_plan(text: str, max_calls: int = DEFAULT_MAX_CALLS) -> ValidationResult:
    """Parse and check a whole plan text. Never raises; every problem is in `errors`.

    Unlike `parse_plan`, it reads past `join()` so that calls after it are reported."""
    result = ValidationResult()
    checker = PlanChecker(max_calls)
    for line_no, raw in enumerate(str(text).split("\n"), start=1):
        line = raw
        end = "<END_OF_PLAN>" in line
        if end:
            line = line.split("<END_OF_PLAN>")[0]
        try:
            item = parse_line(line, line_no)
        except PlanSyntaxError as e:
            result.errors.append(PlanError(e.reason, line=line_no))
            item = None
        if isinstance(item, Call):
            result.calls.append(item)
            result.errors.extend(checker.add(item, line_no))
        if end:
            break
    result.errors.extend(checker.finish())
    return result
