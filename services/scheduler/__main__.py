"""The scheduler stage: for each `run`, asks the planner for the plan and executes its
calls as they stream in (services.scheduler.engine), reporting `progress` and a final
`result` to the gateway.

Under the confirm policy it sends the asker a `confirm` question for each outward call
and waits for the `confirmed` answer, which comes back over the bus. With
[scheduler] joiner = "llm", a plan that fell short is shown to the planner's model,
which may replan once (services.scheduler.replan).

A `run` sent again for a request already running is joined to it; one already done is
answered from memory (both by the Service skeleton: `once`); after a restart it is run
again, and the executor's ledger makes sure no call acts twice."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from services.scheduler.engine import CallEvent, Policy, Scheduler, SchedulerSettings
from services.scheduler.replan import Action, origin_id, round_id, run_rounds
from services.scheduler.result import result_json
from shared import catalog, wire
from shared.config import Config
from shared.outcome import Outcome
from shared.plan import Call, call_key, render_plan
from shared.runtime.bus import Request, Service, run_service, spawn, topic
from shared.wire import Message

KEEP_RESULTS = 256
MAX_REPLANS = 1


def known_outcomes(known: list[Any]) -> dict[str, Outcome]:
    """A run's lookups done early ([{tool, args, ok, value}]) by call_key(). Only silent
    lookups may be known: anything else would skip an action the plan asks for."""
    out: dict[str, Outcome] = {}
    for k in known:
        if not (isinstance(k, dict) and k.get("tool") in catalog.SILENT_LOOKUPS and isinstance(k.get("args"), list)
                and isinstance(k.get("ok"), bool) and isinstance(k.get("value"), str)):
            raise ValueError(f"run: a known outcome must be {{tool, args, ok, value}} of a silent lookup "
                             f"({', '.join(sorted(catalog.SILENT_LOOKUPS))}), not {k!r:.200}")
        out[call_key(k["tool"], tuple(k["args"]))] = Outcome(k["ok"], k["value"])
    return out


class SchedulerService(Service):
    name = "scheduler"
    once = frozenset({"run"})

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.settings = SchedulerSettings.from_config(config.scheduler)
        self.planner = self.requester("planner", terminal={"plan_end", "decision"})
        self.executor = self.requester("executor", terminal={"outcome"}, key=wire.execution_key)
        self.engine = Scheduler(self._execute, self.settings, confirm=self._confirm, on_event=self._on_event)
        self.running: dict[str, Request] = {}  # by request id: where progress and questions go
        self.waiting: dict[str, asyncio.Future[bool]] = {}  # confirm key -> the user's answer
        self.cancelled: OrderedDict[str, None] = OrderedDict()  # so a cancelled request is not replanned

    async def _execute(self, rid: str, idx: int, tool: str, args: tuple[Any, ...], deliver: bool) -> Outcome:
        msg = wire.Execute(idx, tool, list(args), deliver).event(rid, sender=self.name)
        got = wire.CallOutcome.from_event(
            await self.executor.call(msg, timeout_s=self.settings.call_timeout_s))
        return Outcome(got.ok, got.value, got.replayed)

    async def _confirm(self, rid: str, call: Call, args: tuple[Any, ...]) -> bool | str:
        request = self.running.get(origin_id(rid))
        if request is None:
            return "nobody was there to confirm it"
        key = f"{rid}/{call.idx}"
        answer_ = self.waiting[key] = asyncio.get_running_loop().create_future()
        await request.reply(wire.Confirm(key, call.idx, call.tool, list(args),
                                         catalog.confirmation_question(call.tool, args)))
        try:
            return await asyncio.wait_for(answer_, self.settings.confirm_timeout_s)
        except TimeoutError:
            return f"no answer to the confirmation within {self.settings.confirm_timeout_s:g} s"
        finally:
            self.waiting.pop(key, None)

    def extra_topics(self) -> tuple[bytes, ...]:
        return (topic(wire.Confirmed),)

    def on_bus(self, msg: Message) -> None:
        if wire.Confirmed.is_type(msg.type):
            confirmed = wire.Confirmed.from_event(msg)
            waiter = self.waiting.get(confirmed.key)
            if waiter is not None and not waiter.done():
                waiter.set_result(confirmed.yes)

    def _on_event(self, event: CallEvent) -> None:
        request = self.running.get(origin_id(event.request_id))
        if request is not None:
            spawn(request.reply(wire.Progress(event.kind, event.idx, event.tool, event.detail[:2000])))

    def on_cancel(self, request_id: str) -> None:
        self.cancelled[request_id] = None
        while len(self.cancelled) > KEEP_RESULTS:
            self.cancelled.popitem(last=False)
        for n in range(MAX_REPLANS + 1):
            self.engine.cancel(round_id(request_id, n))

    async def handle(self, request: Request) -> None:
        if not wire.Run.is_type(request.msg.type):
            await request.error(f"scheduler does not take {request.msg.type!r} messages")
            return
        try:
            known = known_outcomes(wire.Run.from_event(request.msg).known or [])
        except ValueError as e:
            await request.error(str(e))
            return
        self.running[request.request_id] = request
        try:
            result = await self._run(request.msg, known)
        finally:
            self.running.pop(request.request_id, None)
        await request.reply(wire.Result(**result), keep=True)

    async def _run(self, msg: Message, known: dict[str, Outcome]) -> dict[str, Any]:
        run = wire.Run.from_event(msg)
        sinks: list[dict[str, Any]] = []

        def plan_calls(rid: str, context: str | None = None) -> AsyncIterator[Call]:
            plan = wire.Plan(run.text, run.now, run.tools, run.examples, context, run.layout)
            sinks.append({"text": "", "first": None, "done": None})
            return self._calls(plan.event(rid, msg.trace_id, self.name), sinks[-1])

        async def decide(query: str, observations: str) -> Action:
            if msg.request_id in self.cancelled:
                return "finish"
            ask = wire.Decide(query, observations).event(f"{msg.request_id}~decide", msg.trace_id, self.name)
            decision = wire.Decision.from_event(await self.planner.call(ask, timeout_s=self.settings.stream_timeout_s))
            return "replan" if decision.action == "replan" else "finish"

        llm = self.settings.joiner == "llm"
        # One engine for every request, so a cancel always finds the request it names.
        rounds = await run_rounds(self.engine, msg.request_id, run.text, plan_calls(msg.request_id),
                                  policy=Policy(run.policy) if run.policy else self.settings.policy,
                                  decide=decide if llm else None, replan=plan_calls if llm else None,
                                  max_replans=MAX_REPLANS, known=known)
        return result_json(msg.request_id, run.text, [s["text"] for s in sinks], rounds,
                           t_plan_done=sinks[0]["done"], t_first_call=sinks[0]["first"])

    async def _calls(self, plan: Message, sink: dict[str, Any]) -> AsyncIterator[Call]:
        """The planner's stream as calls. After a planner restart the plan comes again
        from call 1: calls already seen are skipped, a different one is an error."""
        seen: dict[int, Call] = {}
        async for reply in self.planner.stream(plan, timeout_s=self.settings.stream_timeout_s):
            if wire.PlanCall.is_type(reply.type):
                got = wire.PlanCall.from_event(reply)
                call = Call(got.idx, got.tool, tuple(got.args))
                if call.idx in seen:
                    if seen[call.idx] != call:
                        raise RuntimeError(f"the planner sent a different call {call.idx} after restarting")
                    continue
                seen[call.idx] = call
                # The engine stops reading at join(), so the plan text is kept as it grows.
                sink["text"] = render_plan(seen[i] for i in sorted(seen))
                now = time.perf_counter()  # the engine's clock: result times are measured from its t_begin
                sink["first"] = sink["first"] or now
                sink["done"] = now
                yield call
            elif wire.PlanEnd.is_type(reply.type) and (error := wire.PlanEnd.from_event(reply).error):
                raise RuntimeError(f"the planner failed: {error}")


if __name__ == "__main__":
    run_service(SchedulerService)
