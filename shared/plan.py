"""The plan language (tests/shared/eval/README.md): parsing whole plans and token streams.

    Thought: optional reasoning, ignored
    1. get_email_address("Sarah Kim")
    2. compose_new_email(["$1"], [], "Q3", "See attached.", [])
    3. join()<END_OF_PLAN>

Parsing is syntax only: a line becomes a `Call` with Python-literal arguments. Whether
the tool exists, the types fit and references point backwards is `shared.validate`'s job.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

END_OF_PLAN = "<END_OF_PLAN>"
# "$3" or "${3}" inside a string argument stands for the result of call 3.
REF_RE = re.compile(r"\$\{(\d+)\}|\$(\d+)")
_LINE_RE = re.compile(r"^\s*(\d+)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)

Value = str | int | bool | None | list[str]


class PlanSyntaxError(ValueError):
    """A line that is not `N. tool(literal, ...)`; says which line and why."""

    def __init__(self, line_no: int, line: str, reason: str) -> None:
        self.line_no = line_no
        self.line = line
        self.reason = reason
        shown = line if len(line) <= 120 else line[:117] + "..."
        super().__init__(f"plan line {line_no} ({shown!r}): {reason}")


@dataclass(frozen=True)
class Call:
    """One numbered call of a plan. `join()` is a Call with tool == "join"."""

    idx: int
    tool: str
    args: tuple[Value, ...]

    @property
    def is_join(self) -> bool:
        return self.tool == "join"

    def deps(self) -> frozenset[int]:
        """Numbers of the calls whose results this call's arguments use."""
        return frozenset(refs_in(self.args))

    def render(self) -> str:
        return f"{self.idx}. {self.tool}({', '.join(render_value(a) for a in self.args)})"


@dataclass(frozen=True)
class Thought:
    text: str


PlanItem = Call | Thought


def call_key(tool: str, args: tuple[Any, ...]) -> str:
    """What makes two calls the same action: the tool and its resolved arguments."""
    return repr((tool, args))


def refs_in(args: Iterable[Value]) -> Iterator[int]:
    for a in args:
        if isinstance(a, str):
            for m in REF_RE.finditer(a):
                yield int(m.group(1) or m.group(2))
        elif isinstance(a, list):
            yield from refs_in(a)


def render_value(v: Value) -> str:
    if isinstance(v, str):
        # json-style double quotes are what the plans (and the grammar) use.
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(render_value(x) for x in v) + "]"
    return repr(v)


def _literal(node: ast.expr, line_no: int, line: str) -> Value:
    """A Python literal of the plan language, or a precise syntax error."""
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, (str, bool, int))
    ):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    if isinstance(node, ast.List):
        items: list[str] = []
        for elt in node.elts:
            v = _literal(elt, line_no, line)
            if not isinstance(v, str):
                raise PlanSyntaxError(line_no, line, "list items must be strings")
            items.append(v)
        return items
    raise PlanSyntaxError(
        line_no, line, f"argument {ast.unparse(node)!r} is not a string, int, bool, None or list"
    )


def parse_line(line: str, line_no: int = 0) -> PlanItem | None:
    """One line: a Call, a Thought, or None for a blank line / end marker."""
    text = line.replace(END_OF_PLAN, "").strip()
    if not text:
        return None
    if text.startswith("Thought:"):
        return Thought(text[len("Thought:"):].strip())
    m = _LINE_RE.match(text)
    if not m:
        raise PlanSyntaxError(line_no, line, "expected 'N. tool_name(arguments)'")
    idx, tool, inner = int(m.group(1)), m.group(2), m.group(3)
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and friends: still errors
            warnings.simplefilter("ignore", SyntaxWarning)
            expr = ast.parse(f"f({inner})", mode="eval").body
    except (SyntaxError, ValueError) as e:  # ValueError: null bytes
        raise PlanSyntaxError(line_no, line, f"arguments do not parse: {e.args[0]}") from None
    except RecursionError:
        raise PlanSyntaxError(line_no, line, "arguments nested too deeply") from None
    assert isinstance(expr, ast.Call)
    if expr.keywords:
        raise PlanSyntaxError(line_no, line, "arguments are positional; keywords are not allowed")
    if any(isinstance(a, ast.Starred) for a in expr.args):
        raise PlanSyntaxError(line_no, line, "starred arguments are not allowed")
    try:
        args = tuple(_literal(a, line_no, line) for a in expr.args)
    except RecursionError:
        raise PlanSyntaxError(line_no, line, "arguments nested too deeply") from None
    return Call(idx, tool, args)


def parse_plan(text: str) -> list[Call]:
    """A whole plan's calls, thoughts dropped, up to `join()` or `<END_OF_PLAN>`.
    Raises PlanSyntaxError on the first bad line."""
    calls: list[Call] = []
    for line_no, line in enumerate(text.split("\n"), start=1):
        end = END_OF_PLAN in line
        item = parse_line(line.split(END_OF_PLAN)[0], line_no)
        if isinstance(item, Call):
            calls.append(item)
            if item.is_join:
                break
        if end:
            break
    return calls


def render_plan(calls: Iterable[Call]) -> str:
    return "\n".join(c.render() for c in calls)


class StreamingPlanParser:
    """Fed text as it is generated (token by token), yields each item the moment its
    line is complete: at its newline, or earlier, as soon as the text so far is a
    whole call (closing parenthesis outside any string), so a call never waits for
    the model to produce the line break.

    Stops at `<END_OF_PLAN>` or after `join()`; text after that is ignored (`done`)."""

    def __init__(self) -> None:
        self._buf = ""
        self._line_no = 0
        self._emitted_current = False  # the current line already yielded early
        self.done = False

    def feed(self, chunk: str) -> Iterator[PlanItem]:
        if self.done:
            return
        self._buf += chunk
        while not self.done:
            nl = self._buf.find("\n")
            if nl < 0:
                break
            line, self._buf = self._buf[:nl], self._buf[nl + 1:]
            yield from self._finish_line(line)
        if not self.done and self._buf and not self._emitted_current:
            item = self._try_early(self._buf)
            if item is not None:
                self._emitted_current = True
                yield from self._emit(item)

    def close(self) -> Iterator[PlanItem]:
        """End of stream: the last line needs no newline."""
        if not self.done and self._buf:
            line, self._buf = self._buf, ""
            yield from self._finish_line(line)
        self.done = True

    def _finish_line(self, line: str) -> Iterator[PlanItem]:
        self._line_no += 1
        if END_OF_PLAN in line:
            line = line[: line.index(END_OF_PLAN)]
            stop = True
        else:
            stop = False
        if self._emitted_current:
            # Already yielded early; the rest of the line must not change the call.
            self._emitted_current = False
            parse_line(line, self._line_no)
        else:
            item = parse_line(line, self._line_no)
            if item is not None:
                yield from self._emit(item)
        if stop:
            self.done = True

    def _emit(self, item: PlanItem) -> Iterator[PlanItem]:
        yield item
        if isinstance(item, Call) and item.is_join:
            self.done = True

    def _try_early(self, partial: str) -> PlanItem | None:
        text = partial.strip()
        if END_OF_PLAN in text or not text.endswith(")") or text.startswith("Thought:"):
            return None
        if not _LINE_RE.match(text):
            return None
        try:
            item = parse_line(text, self._line_no + 1)
        except PlanSyntaxError:
            return None  # maybe a ")" inside a string still being written; wait
        return item


class RepeatedCalls:
    """Drops a call that repeats an earlier one: the same tool with the same arguments,
    references read through the calls they name. A lookup's result would be the earlier
    one's, and a send or a create would happen twice; a small model writes such repeats
    (the same person looked up again, a degenerate plan looping to the call limit). Later
    references to a dropped call name the earlier call, and the calls kept are numbered
    1, 2, 3... again. Fed each call as it is written, so a streamed plan is merged as it
    streams."""

    def __init__(self) -> None:
        self._number: dict[int, int] = {}  # the writer's call number -> the number kept
        self._kept: dict[str, int] = {}  # call_key() -> number kept
        self.dropped = 0

    def keep(self, call: Call) -> Call | None:
        """`call` renumbered (its references too), or None when it repeats one kept."""
        args = tuple(renumber_refs(a, self._number) for a in call.args)
        idx = len(self._kept) + 1
        if call.is_join:
            return Call(idx, call.tool, args)
        key = call_key(call.tool, args)
        if key in self._kept:
            self._number[call.idx] = self._kept[key]
            self.dropped += 1
            return None
        self._kept[key] = self._number[call.idx] = idx
        return Call(idx, call.tool, args)


def renumber_refs(value: Value, numbers: dict[int, int]) -> Value:
    """`value` with each "$K" whose K is in `numbers` made "$numbers[K]" (others untouched)."""
    def sub(m: re.Match[str]) -> str:
        k = int(m.group(1) or m.group(2))
        if k not in numbers:
            return m.group(0)
        return f"${{{numbers[k]}}}" if m.group(1) else f"${numbers[k]}"

    if isinstance(value, str):
        return REF_RE.sub(sub, value)
    if isinstance(value, list):
        return [str(renumber_refs(v, numbers)) for v in value]
    return value


def resolve_refs(value: Value, results: dict[int, str]) -> Value:
    """`value` with each "$K" / "${K}" replaced by call K's result (KeyError if absent)."""
    if isinstance(value, str):
        return REF_RE.sub(lambda m: results[int(m.group(1) or m.group(2))], value)
    if isinstance(value, list):
        return [str(resolve_refs(v, results)) for v in value]
    return value
