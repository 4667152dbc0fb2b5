"""The scheduler stage: for each `run`, asks the planner for the plan and executes its
calls as they stream in (services.scheduler.engine), reporting `progress` and a final
`result` to the gateway.

A `run` sent again for a request already running is joined to it; one already done is
answered from memory; after a restart it is run again, and the executor's ledger
makes sure no call acts twice."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

from services.executor.ledger import Outcome
from services.scheduler.engine import CallEvent, Policy, RequestResult, Scheduler, SchedulerSettings
from services.scheduler.joiner import answer
from shared.bus import Service, run_service, spawn
from shared.config import Config
from shared.plan import Call, render_plan
from shared.wire import Message

KEEP_RESULTS = 256


def result_body(plan_text: str, result: RequestResult, plan_seconds: float | None) -> dict[str, Any]:
    t0 = result.t_begin
    return {
        "plan": plan_text,
        "calls": [{"idx": c.idx, "tool": c.tool, "args": list(c.args), "state": c.state, "result": c.value,
                   "error": c.error, "start_s": round(c.started - t0, 4) if c.started else None,
                   "end_s": round(c.finished - t0, 4) if c.finished else None} for c in result.calls],
        "answer": answer(result),
        "plan_errors": result.plan_errors,
        "seconds": {"plan": plan_seconds, "total": round(result.t_end - t0, 4)},
    }


class SchedulerService(Service):
    name = "scheduler"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        s = config.scheduler
        self.settings = SchedulerSettings(policy=Policy(s.get("policy", "draft")),
                                          call_timeout_s=float(s.get("call_timeout_s", 30)),
                                          stream_timeout_s=float(s.get("stream_timeout_s", 180)))
        self.planner = self.requester("planner", terminal={"plan_end"})
        self.executor = self.requester("executor", terminal={"outcome"},
                                       key=lambda m: f"{m.request_id}/{m.body.get('idx')}")
        self.engine = Scheduler(self._execute, self.settings, on_event=self._on_event)
        self.listeners: dict[str, list[tuple[bytes, Message]]] = {}
        self.finished: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def _execute(self, rid: str, idx: int, tool: str, args: tuple[Any, ...], deliver: bool) -> Outcome:
        msg = Message("execute", {"idx": idx, "tool": tool, "args": list(args), "deliver": deliver}, rid,
                      sender=self.name)
        reply = await self.executor.call(msg, timeout_s=self.settings.call_timeout_s, key=f"{rid}/{idx}")
        return Outcome(reply.body["ok"], reply.body["value"], reply.body["replayed"])

    def _on_event(self, event: CallEvent) -> None:
        for ident, request in self.listeners.get(event.request_id, []):
            body = {"kind": event.kind, "idx": event.idx, "tool": event.tool, "detail": event.detail[:2000]}
            spawn(self.send(ident, request.reply("progress", body, self.name)))

    def on_cancel(self, request_id: str) -> None:
        self.engine.cancel(request_id)

    async def handle(self, ident: bytes, msg: Message) -> None:
        if msg.type != "run":
            await self.error(ident, msg.request_id, f"scheduler does not take {msg.type!r} messages")
            return
        rid = msg.request_id
        if rid in self.finished:
            await self.send(ident, msg.reply("result", self.finished[rid], self.name))
            return
        if rid in self.listeners:  # the same request again: answer both askers
            self.listeners[rid].append((ident, msg))
            return
        if msg.body["policy"] == "confirm":
            await self.error(ident, rid, "the confirm policy needs an interactive session: "
                                         "use `pippin ask --local --policy confirm`, or draft / auto")
            return
        self.listeners[rid] = [(ident, msg)]
        try:
            body = await self._run(msg)
        finally:
            askers = self.listeners.pop(rid, [])
        self.finished[rid] = body
        while len(self.finished) > KEEP_RESULTS:
            self.finished.popitem(last=False)
        for asker, request in askers:
            await self.send(asker, request.reply("result", body, self.name))

    async def _run(self, msg: Message) -> dict[str, Any]:
        b = msg.body
        plan = Message("plan", {"text": b["text"], "now": b["now"], "tools": b["tools"], "examples": b["examples"]},
                       msg.request_id, msg.trace_id, self.name)
        sink: dict[str, Any] = {"text": "", "seconds": None}
        # One engine for every request, so a cancel always finds the request it names.
        result = await self.engine.run(msg.request_id, self._calls(plan, sink), policy=Policy(b["policy"]))
        return result_body(sink["text"], result, sink["seconds"])

    async def _calls(self, plan: Message, sink: dict[str, Any]) -> AsyncIterator[Call]:
        """The planner's stream as calls. After a planner restart the plan comes again
        from call 1: calls already seen are skipped, a different one is an error."""
        seen: dict[int, Call] = {}
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        async for reply in self.planner.stream(plan, timeout_s=self.settings.stream_timeout_s):
            if reply.type == "plan_call":
                call = Call(reply.body["idx"], reply.body["tool"], tuple(reply.body["args"]))
                if call.idx in seen:
                    if seen[call.idx] != call:
                        raise RuntimeError(f"the planner sent a different call {call.idx} after restarting")
                    continue
                seen[call.idx] = call
                # The engine stops reading at join(), so the plan text is kept as it grows.
                sink["text"] = render_plan(seen[i] for i in sorted(seen))
                sink["seconds"] = round(loop.time() - t0, 4)
                yield call
            elif reply.type == "plan_end" and reply.body.get("error"):
                raise RuntimeError(f"the planner failed: {reply.body['error']}")


if __name__ == "__main__":
    run_service(SchedulerService)
