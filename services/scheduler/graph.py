"""One request's plan as a dependency graph: pure bookkeeping, no sockets, no threads.

Calls arrive one at a time in any order (as the planner streams them, or as a network
delivers them). `add` and `finish` return the calls that have just become ready, so
the engine dispatches each call the moment its last input exists, and the calls that
can never run because an input failed, with the reason."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from shared import catalog
from shared.plan import Call, resolve_refs
from shared.validate import check_args


class State(enum.Enum):
    WAITING = "waiting"  # inputs not all there yet
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"  # an input failed or was skipped, or the request was cancelled


@dataclass
class Node:
    call: Call
    state: State = State.WAITING
    result: str | None = None
    error: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def settled(self) -> bool:
        return self.state in (State.DONE, State.FAILED, State.SKIPPED)


@dataclass
class Skip:
    idx: int
    reason: str


@dataclass
class Progress:
    """What changed: calls to start now, calls refused as invalid, calls that will never run."""

    ready: list[Call] = field(default_factory=list)
    failed: list[Skip] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def extend(self, other: Progress) -> None:
        self.ready.extend(other.ready)
        self.failed.extend(other.failed)
        self.skipped.extend(other.skipped)


def invalid_reason(call: Call) -> str | None:
    """Why a single call cannot run, judged on its own (the stream may be out of order)."""
    if call.tool not in catalog.BY_NAME:
        return f"unknown tool {call.tool!r}"
    bad_refs = sorted(k for k in call.deps() if k >= call.idx or k < 1)
    if bad_refs:
        return f"${bad_refs[0]} does not refer to an earlier call"
    problems = check_args(call)
    return "; ".join(problems) if problems else None


class PlanGraph:
    def __init__(self, max_calls: int = 20) -> None:
        self.nodes: dict[int, Node] = {}
        self.join_idx: int | None = None
        self.cancelled = False
        self.max_calls = max_calls

    # ---- input ---------------------------------------------------------------------------
    def add(self, call: Call) -> Progress:
        """A new call from the plan. Duplicates and calls after join() are refused."""
        progress = Progress()
        if call.idx in self.nodes or (self.join_idx is not None and call.idx == self.join_idx):
            raise ValueError(f"call {call.idx} arrived twice")
        if call.is_join:
            if call.args:
                raise ValueError("join() takes no arguments")
            if any(i > call.idx for i in self.nodes):
                raise ValueError(f"join() is call {call.idx} but a later call arrived")
            self.join_idx = call.idx
            return progress
        if self.join_idx is not None and call.idx > self.join_idx:
            raise ValueError(f"call {call.idx} comes after join() (call {self.join_idx})")
        if len(self.nodes) >= self.max_calls:
            raise ValueError(f"plan has more than {self.max_calls} calls")
        node = Node(call)
        self.nodes[call.idx] = node
        if self.cancelled:
            node.state, node.error = State.SKIPPED, "the request was cancelled"
            progress.skipped.append(Skip(call.idx, node.error))
            return progress
        reason = invalid_reason(call)
        if reason:
            node.state, node.error = State.FAILED, f"invalid call: {reason}"
            progress.failed.append(Skip(call.idx, node.error))
            progress.extend(self._propagate_failure(call.idx))
            return progress
        blocked = self._blocked_by(call)
        if blocked is not None:
            node.state = State.SKIPPED
            node.error = blocked
            progress.skipped.append(Skip(call.idx, blocked))
            progress.extend(self._propagate_failure(call.idx))
        elif self._inputs_ready(call):
            progress.ready.append(call)
        return progress

    def start(self, idx: int, at: float) -> None:
        node = self.nodes[idx]
        node.state, node.started = State.RUNNING, at

    def finish(self, idx: int, *, result: str | None = None, error: str | None = None,
               at: float = 0.0) -> Progress:
        """Record a call's outcome; returns the dependents that became ready or are skipped."""
        node = self.nodes[idx]
        node.finished = at
        if error is None:
            node.state, node.result = State.DONE, result if result is not None else ""
            return self._newly_ready(idx)
        node.state, node.error = State.FAILED, error
        return self._propagate_failure(idx)

    def cancel(self) -> list[Skip]:
        """No new call starts; waiting calls are skipped. Running calls finish (or are
        abandoned) by the engine."""
        self.cancelled = True
        skipped = []
        for node in self.nodes.values():
            if node.state is State.WAITING:
                node.state, node.error = State.SKIPPED, "the request was cancelled"
                skipped.append(Skip(node.call.idx, node.error))
        return skipped

    # ---- queries ---------------------------------------------------------------------------
    def resolved_args(self, call: Call) -> tuple[object, ...]:
        results = {i: n.result for i, n in self.nodes.items() if n.state is State.DONE}
        return tuple(resolve_refs(a, results) for a in call.args)  # type: ignore[arg-type]

    @property
    def complete(self) -> bool:
        """join() has arrived, every call before it has arrived and settled."""
        if self.join_idx is None:
            return False
        expected = set(range(1, self.join_idx))
        return expected <= set(self.nodes) and all(self.nodes[i].settled for i in expected)

    def missing(self) -> list[int]:
        if self.join_idx is None:
            return []
        return [i for i in range(1, self.join_idx) if i not in self.nodes]

    def dependents(self, idx: int) -> list[int]:
        return [i for i, n in self.nodes.items() if idx in n.call.deps()]

    # ---- internals -------------------------------------------------------------------------
    def _inputs_ready(self, call: Call) -> bool:
        return all(k in self.nodes and self.nodes[k].state is State.DONE for k in call.deps())

    def _blocked_by(self, call: Call) -> str | None:
        for k in sorted(call.deps()):
            dep = self.nodes.get(k)
            if dep is not None and dep.state in (State.FAILED, State.SKIPPED):
                return f"call {k} ({dep.call.tool}) did not succeed"
        return None

    def _newly_ready(self, idx: int) -> Progress:
        progress = Progress()
        if self.cancelled:
            return progress
        for i in sorted(self.dependents(idx)):
            n = self.nodes[i]
            if n.state is State.WAITING and self._inputs_ready(n.call):
                progress.ready.append(n.call)
        return progress

    def _propagate_failure(self, idx: int) -> Progress:
        progress = Progress()
        for i in sorted(self.dependents(idx)):
            n = self.nodes[i]
            if n.state is State.WAITING:
                n.state = State.SKIPPED
                n.error = f"call {idx} ({self.nodes[idx].call.tool}) did not succeed"
                progress.skipped.append(Skip(i, n.error))
                progress.extend(self._propagate_failure(i))
        return progress
