"""The DAG scheduler: runs a plan while it is still being written.

Event-driven, not polled: when a call arrives or finishes, the calls it unblocks are
started at once, each in its own task, so independent calls truly overlap. Apps driven
by UI scripting take one call at a time; lookups run side by side. Every call has a
timeout; a failure becomes an error observation and only its dependents are skipped."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from services.scheduler.graph import PlanGraph, Progress, State
from shared import catalog
from shared.catalog import Effect
from shared.outcome import Outcome
from shared.plan import Call, call_key
from shared.validate import DEFAULT_MAX_CALLS


class Policy(enum.Enum):
    """What to do with calls that reach other people (messages, emails, invitations)."""

    DRAFT = "draft"  # leave drafts for the user to send, as TinyAgent does
    CONFIRM = "confirm"  # ask first; send if the user agrees
    AUTO = "auto"  # send


ExecuteFn = Callable[[str, int, str, tuple[Any, ...], bool], Awaitable[Outcome]]
# Asked before an outward call under the confirm policy: True sends it, False leaves it
# undone ("you did not confirm it"), a string leaves it undone and says why.
ConfirmFn = Callable[[str, Call, tuple[Any, ...]], Awaitable[bool | str]]
EventFn = Callable[["CallEvent"], None]


@dataclass
class SchedulerSettings:
    """The scheduler's settings; these defaults are the only ones (config/pippin.toml shows
    them, and a test keeps the two the same)."""

    policy: Policy = Policy.DRAFT
    call_timeout_s: float = 30.0
    parallel_per_app: int = 8  # for apps whose tools may run side by side
    max_calls: int = DEFAULT_MAX_CALLS  # any planner's plan; the model's grammar allows fewer
    stream_timeout_s: float = 180.0  # the plan must be complete (join) by then
    confirm_timeout_s: float = 120.0  # confirm policy: no answer by then means "not sent"
    joiner: str = "rules"  # or "llm": when a call fails, the planner's model may replan once

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> SchedulerSettings:
        """[scheduler] of pippin.toml: the keys it sets, the defaults for the rest."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in section.items() if k in known}
        if "policy" in values:
            values["policy"] = Policy(values["policy"])
        return cls(**values)


@dataclass(frozen=True)
class CallEvent:
    kind: str  # "start" | "done" | "failed" | "skipped"
    request_id: str
    idx: int
    tool: str
    detail: str = ""
    at: float = field(default_factory=time.perf_counter)


@dataclass
class CallReport:
    idx: int
    tool: str
    args: tuple[Any, ...]
    state: str
    value: str | None
    error: str | None
    started: float | None
    finished: float | None
    has_dependents: bool
    reused: bool = False  # the same call ran in an earlier round of this request; its outcome was reused


@dataclass
class RequestResult:
    request_id: str
    calls: list[CallReport]
    plan_errors: list[str]
    cancelled: bool
    t_begin: float
    t_end: float

    @property
    def ok(self) -> bool:
        return not self.plan_errors and all(c.state == State.DONE.value for c in self.calls)


class Scheduler:
    def __init__(self, execute: ExecuteFn, settings: SchedulerSettings | None = None, *,
                 confirm: ConfirmFn | None = None, on_event: EventFn | None = None) -> None:
        self.execute = execute
        self.settings = settings or SchedulerSettings()
        self.confirm = confirm
        self.on_event = on_event or (lambda e: None)
        self._app_slots: dict[str, asyncio.Semaphore] = {}
        self._running: dict[str, tuple[PlanGraph, set[asyncio.Task[None]]]] = {}

    def _slot(self, app: str) -> asyncio.Semaphore:
        if app not in self._app_slots:
            serial = any(t.serial for t in catalog.TOOLS if t.app == app)
            self._app_slots[app] = asyncio.Semaphore(1 if serial else self.settings.parallel_per_app)
        return self._app_slots[app]

    def cancel(self, request_id: str) -> bool:
        """Stop a request: nothing new starts, running calls are abandoned (the ledger
        still records whatever they did). False if the request is unknown or finished."""
        entry = self._running.get(request_id)
        if entry is None:
            return False
        graph, tasks = entry
        for skip in graph.cancel():
            self._emit("skipped", request_id, graph, skip.idx, skip.reason)
        for task in tasks:
            task.cancel()
        return True

    def _emit(self, kind: str, request_id: str, graph: PlanGraph, idx: int, detail: str = "") -> None:
        tool = graph.nodes[idx].call.tool if idx in graph.nodes else "?"
        self.on_event(CallEvent(kind, request_id, idx, tool, detail))

    async def run(self, request_id: str, calls: AsyncIterable[Call] | Iterable[Call], *,
                  policy: Policy | None = None,
                  reuse: Mapping[str, Outcome | asyncio.Future[Outcome]] | None = None) -> RequestResult:
        """Run one request's plan; `policy` overrides the settings' for this request only.
        `reuse` maps call_key()s of calls already run for this request (a replan; a lookup
        run early from a speculative plan, maybe still running) to their outcomes: such a
        call is not run again, its outcome stands (awaited if it is still coming)."""
        policy = policy or self.settings.policy
        reuse = {} if reuse is None else reuse  # a live mapping: early lookups join it as they start
        reused: set[int] = set()
        graph = PlanGraph(self.settings.max_calls)
        tasks: set[asyncio.Task[None]] = set()
        changed = asyncio.Event()
        plan_errors: list[str] = []
        self._running[request_id] = (graph, tasks)
        t_begin = time.perf_counter()

        def handle(progress: Progress) -> None:
            for f in progress.failed:
                self._emit("failed", request_id, graph, f.idx, f.reason)
            for s in progress.skipped:
                self._emit("skipped", request_id, graph, s.idx, s.reason)
            for call in progress.ready:
                graph.start(call.idx, time.perf_counter())  # claimed now: never dispatched twice
                task = asyncio.create_task(run_call(call))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            changed.set()

        async def run_call(call: Call) -> None:
            args = graph.resolved_args(call)
            tool = catalog.get(call.tool)
            deliver = False
            earlier = reuse.get(call_key(call.tool, args))
            if isinstance(earlier, asyncio.Future):  # still running: wait for it; if it failed, run the call
                await asyncio.wait([earlier])
                earlier = earlier.result() if not earlier.cancelled() and earlier.exception() is None else None
            if earlier is not None:
                reused.add(call.idx)
                graph.nodes[call.idx].started = time.perf_counter()
                finish(call, earlier)
                return
            try:
                async with self._slot(tool.app):
                    if catalog.effect_of(call.tool, args) is Effect.OUTWARD:
                        if policy is Policy.AUTO:
                            deliver = True
                        elif policy is Policy.CONFIRM:
                            verdict = await self.confirm(request_id, call, args) if self.confirm else False
                            deliver = verdict is True
                            if not deliver:
                                why = verdict if isinstance(verdict, str) else "you did not confirm it"
                                finish(call, Outcome(False, f"not done: {why}"))
                                return
                    graph.nodes[call.idx].started = time.perf_counter()
                    self._emit("start", request_id, graph, call.idx)
                    outcome = await asyncio.wait_for(
                        self.execute(request_id, call.idx, call.tool, args, deliver),
                        self.settings.call_timeout_s)
            except TimeoutError:
                outcome = Outcome(False, f"timed out after {self.settings.call_timeout_s:g} s")
            except asyncio.CancelledError:
                node = graph.nodes[call.idx]
                node.state, node.error = State.SKIPPED, "the request was cancelled while it ran"
                node.finished = time.perf_counter()
                self._emit("skipped", request_id, graph, call.idx, node.error)
                changed.set()
                return
            except Exception as e:
                outcome = Outcome(False, f"{type(e).__name__}: {e}")
            finish(call, outcome)

        def finish(call: Call, outcome: Outcome) -> None:
            now = time.perf_counter()
            if outcome.ok:
                progress = graph.finish(call.idx, result=outcome.value, at=now)
                self._emit("done", request_id, graph, call.idx, outcome.value)
            else:
                progress = graph.finish(call.idx, error=outcome.value, at=now)
                self._emit("failed", request_id, graph, call.idx, outcome.value)
            handle(progress)

        async def feed() -> None:
            try:
                if isinstance(calls, AsyncIterable):
                    async for call in calls:
                        if not accept(call):
                            break
                else:
                    for call in calls:
                        if not accept(call):
                            break
            except Exception as e:
                plan_errors.append(f"the plan stream broke: {type(e).__name__}: {e}")
            changed.set()

        def accept(call: Call) -> bool:
            if graph.cancelled:
                return False
            try:
                handle(graph.add(call))
            except ValueError as e:
                plan_errors.append(f"call {call.idx}: {e}")
                return False
            return not call.is_join

        feeder = asyncio.create_task(feed())
        deadline = t_begin + self.settings.stream_timeout_s
        try:
            while True:
                if feeder.done() and (graph.complete or not (tasks or self._pending(graph))):
                    break
                if graph.cancelled and not tasks:
                    break
                changed.clear()
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    plan_errors.append(f"the plan did not finish within {self.settings.stream_timeout_s:g} s")
                    self.cancel(request_id)
                    break
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    continue
            if tasks:
                await asyncio.gather(*list(tasks), return_exceptions=True)
        finally:
            feeder.cancel()
            self._running.pop(request_id, None)
        if graph.join_idx is None and not graph.cancelled and not plan_errors:
            plan_errors.append("the plan ended without join()")
        if graph.missing():
            plan_errors.append("calls " + ", ".join(map(str, graph.missing())) + " never arrived")
        for node in graph.nodes.values():
            if node.state is State.WAITING:
                node.state, node.error = State.SKIPPED, "its inputs never became available"
        reports = self._reports(graph)
        for report in reports:
            report.reused = report.idx in reused
        return RequestResult(request_id, reports, plan_errors, graph.cancelled, t_begin, time.perf_counter())

    @staticmethod
    def _pending(graph: PlanGraph) -> bool:
        return any(n.state is State.RUNNING for n in graph.nodes.values())

    @staticmethod
    def _reports(graph: PlanGraph) -> list[CallReport]:
        out = []
        for idx in sorted(graph.nodes):
            n = graph.nodes[idx]
            try:
                args = graph.resolved_args(n.call)
            except KeyError:  # an input never produced a result: show the plan's own arguments
                args = n.call.args
            out.append(CallReport(idx, n.call.tool, args, n.state.value, n.result, n.error, n.started,
                                  n.finished, bool(graph.dependents(idx))))
        return out
