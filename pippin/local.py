"""Pippin in one process, no daemons: planner -> streaming parser -> scheduler -> executor.

The planner generates in a worker thread; each call is handed to the scheduler the
moment its line is complete, so lookups run while the model is still writing."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from services.executor.ledger import Executor, Outcome
from services.planner.base import Planner, PlanRequest
from services.scheduler.engine import CallEvent, RequestResult, Scheduler, SchedulerSettings
from services.scheduler.joiner import answer
from shared.plan import Call, PlanSyntaxError, StreamingPlanParser


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

    def to_json(self) -> dict[str, Any]:
        t0 = self.result.t_begin
        return {
            "request_id": self.request_id,
            "query": self.query,
            "plan": self.plan_text,
            "planner_error": self.planner_error,
            "plan_errors": self.result.plan_errors,
            "calls": [
                {"idx": c.idx, "tool": c.tool, "args": list(c.args), "state": c.state, "result": c.value,
                 "error": c.error,
                 "start_s": round(c.started - t0, 4) if c.started else None,
                 "end_s": round(c.finished - t0, 4) if c.finished else None}
                for c in self.result.calls
            ],
            "answer": self.answer,
            "seconds": {
                "plan": round(self.t_plan_done - t0, 4),
                "first_call_parsed": round(self.t_first_call_parsed - t0, 4) if self.t_first_call_parsed else None,
                "total": round(self.result.t_end - t0, 4),
            },
        }


async def _calls_from_planner(planner: Planner, request: PlanRequest, sink: dict[str, Any]) -> AsyncIterator[Call]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Call | BaseException | None] = asyncio.Queue()

    def work() -> None:
        parser = StreamingPlanParser()
        text: list[str] = []
        try:
            for chunk in planner.stream(request):
                text.append(chunk)
                for item in parser.feed(chunk):
                    if isinstance(item, Call):
                        if sink.get("first_call") is None:
                            sink["first_call"] = time.perf_counter()
                        loop.call_soon_threadsafe(queue.put_nowait, item)
            for item in parser.close():
                if isinstance(item, Call):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
        except (PlanSyntaxError, Exception) as e:
            loop.call_soon_threadsafe(queue.put_nowait, e)
        finally:
            sink["text"] = "".join(text)
            sink["plan_done"] = time.perf_counter()
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=work, name="planner", daemon=True).start()
    while True:
        item = await queue.get()
        if item is None:
            return
        if isinstance(item, BaseException):
            sink["error"] = f"{type(item).__name__}: {item}"
            raise item
        yield item


async def run_request(planner: Planner, executor: Executor, query: str, now: str, *,
                      settings: SchedulerSettings | None = None, request_id: str | None = None,
                      scheduler: Scheduler | None = None) -> LocalRun:
    request_id = request_id or uuid.uuid4().hex[:12]
    events: list[CallEvent] = []

    async def execute(rid: str, idx: int, tool: str, args: tuple[Any, ...], deliver: bool) -> Outcome:
        return await asyncio.to_thread(executor.execute, rid, idx, tool, args, deliver=deliver)

    sched = scheduler or Scheduler(execute, settings, on_event=events.append)
    sink: dict[str, Any] = {}
    result = await sched.run(request_id, _calls_from_planner(planner, PlanRequest(query, now), sink))
    return LocalRun(request_id, query, sink.get("text", ""), result, answer(result), events,
                    sink.get("plan_done", result.t_end), sink.get("first_call"), sink.get("error"))
