"""Pippin in one process, no daemons: planner -> streaming parser -> scheduler -> executor.

The planner generates in a worker thread; each call is handed to the scheduler the
moment its line is complete, so lookups run while the model is still writing."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from services.executor.ledger import Executor
from services.planner.base import Planner, PlanRequest, PlanStream, calls_in_background
from services.scheduler.engine import CallEvent, ConfirmFn, RequestResult, Scheduler, SchedulerSettings
from services.scheduler.joiner import answer
from services.scheduler.replan import Action, DecideFn, ReplanFn, Round, replan_note, run_rounds
from services.scheduler.result import result_json
from shared.outcome import Outcome
from shared.plan import Call


@dataclass
class LocalRun:
    request_id: str
    query: str
    plan_text: str
    result: RequestResult
    answer: str
    events: list[CallEvent]
    t_plan_done: float
    t_first_call_parsed: float | None
    planner_error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)  # more than one when the joiner replanned
    replan_text: str = ""  # the new plan, if there was one

    def to_json(self) -> dict[str, Any]:
        """The one result schema (services/scheduler/result.py), as `pippin ask` prints it."""
        rounds = self.rounds or [Round(self.request_id, self.result)]
        plans = [self.plan_text] + ([self.replan_text] if len(rounds) > 1 else [])
        return result_json(self.request_id, self.query, plans, rounds, t_plan_done=self.t_plan_done,
                           t_first_call=self.t_first_call_parsed, planner_error=self.planner_error)


async def _timed_calls(planner: Planner, request: PlanRequest, record: PlanStream,
                       sink: dict[str, float]) -> AsyncIterator[Call]:
    try:
        async for call in calls_in_background(planner, request, record):
            sink.setdefault("first_call", time.perf_counter())
            yield call
    finally:
        sink["plan_done"] = time.perf_counter()


async def run_request(planner: Planner, executor: Executor, query: str, now: str, *,
                      settings: SchedulerSettings | None = None, request_id: str | None = None,
                      scheduler: Scheduler | None = None, confirm: ConfirmFn | None = None,
                      llm_joiner: bool = False) -> LocalRun:
    """Plan and run one request. llm_joiner: when something fails, let the planner's model
    decide Finish or Replan (services.scheduler.replan), if the planner has a `decide`."""
    request_id = request_id or uuid.uuid4().hex[:12]
    events: list[CallEvent] = []

    async def execute(rid: str, idx: int, tool: str, args: tuple[Any, ...], deliver: bool) -> Outcome:
        return await asyncio.to_thread(executor.execute, rid, idx, tool, args, deliver=deliver)

    sched = scheduler or Scheduler(execute, settings, confirm=confirm, on_event=events.append)
    sink: dict[str, float] = {}
    record = PlanStream()
    replan_record = PlanStream()
    decide: DecideFn | None = None
    replan: ReplanFn | None = None
    if llm_joiner and hasattr(planner, "decide"):
        async def decide(q: str, observations: str) -> Action:
            return await asyncio.to_thread(planner.decide, q, observations)  # type: ignore[attr-defined]

        def replan(rid: str, observations: str) -> AsyncIterator[Call]:
            return calls_in_background(planner, PlanRequest(query, now, context=observations), replan_record)

    rounds = await run_rounds(sched, request_id, query, _timed_calls(planner, PlanRequest(query, now), record, sink),
                              decide=decide, replan=replan)
    await record.finished()
    if len(rounds) > 1:
        await replan_record.finished()
    result = rounds[-1].result
    text = "\n".join(filter(None, [answer(result), replan_note(rounds)]))
    return LocalRun(request_id, query, record.text, result, text, events,
                    sink.get("plan_done", result.t_end), sink.get("first_call"), record.error,
                    rounds=rounds, replan_text=replan_record.text)
