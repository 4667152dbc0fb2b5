"""The gateway: where requests come in (the CLI, the listener) and answers go out.

For each `ask` it answers `accepted`, asks retrieval for the tools and examples, hands
the request to the scheduler and relays its `progress` and `result`. It also keeps the
latest heartbeat of every stage for `status`, and turns `cancel` into bus news.
Every request ends, within [gateway] request_timeout_s, in a result or a clear error.

Early planning ([listener] early_plan): at the first pause in speech (a `transcript`
with pause set) the gateway asks retrieval for the tools of the words so far and the
planner for a speculative plan of them, at the moment of the pause, and runs the plan's
lookups that neither change nor show anything (catalog.SILENT_LOOKUPS) as they stream in.
When the listener then asks with exactly those words, the request keeps that moment and
those tools, so its plan is the one already being written, and the scheduler is told the
lookups already done (`run` known). Nothing else runs from a speculation: the request goes
through the scheduler like any other."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from shared import catalog, wire
from shared.config import Config
from shared.plan import call_key
from shared.runtime.bus import Request, Service, StageError, run_service, spawn, topic
from shared.wire import Message, new_id

log = logging.getLogger("pippin.gateway")
REQUEST_TIMEOUT_S = 240.0  # the default; [gateway] request_timeout_s
# A speculation older than this is not taken for a request: the turn ends 0.6 s after the
# pause ([listener] silence_ms), so an older one was for words the user went on from.
EARLY_PLAN_FRESH_S = 30.0


@dataclass
class EarlyPlan:
    """What a speculative plan was asked with (the words, their moment, the tools found),
    and the lookups run from it, by call_key()."""

    text: str
    now: str
    retrieved: wire.Retrieved
    at: float  # time.monotonic()
    lookups: dict[str, tuple[wire.PlanCall, asyncio.Task[wire.CallOutcome | None]]] = field(default_factory=dict)

    async def known(self) -> list[dict[str, Any]]:
        """The lookups run so far, for the scheduler, once done: one still running is waited for
        (it started before the request came, and would otherwise run twice); one that got no
        outcome the scheduler runs itself."""
        started = list(self.lookups.values())  # those the plan streams in later, the scheduler runs
        if started:
            await asyncio.wait([task for _, task in started])
        return [{"tool": call.tool, "args": call.args, "ok": got.ok, "value": got.value}
                for call, task in started if (got := task.result()) is not None]


class GatewayService(Service):
    name = "gateway"
    once = frozenset({"ask"})  # an ask sent again joins the one running, or gets its result

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.timeout_s = float(config.gateway.get("request_timeout_s", REQUEST_TIMEOUT_S))
        self.retrieval = self.requester("retrieval", terminal={"retrieved"})
        self.scheduler = self.requester("scheduler", terminal={"result"})
        self.stages: dict[str, dict[str, Any]] = {}
        self.early_plan = bool(config.listener.get("early_plan", True))
        self.voice_layout = str(config.listener.get("plan_layout", "grammar"))
        self.planner = self.requester("planner", terminal={"plan_end"})
        self.executor = self.requester("executor", terminal={"outcome"}, key=wire.execution_key)
        self.early: EarlyPlan | None = None  # the last speculation asked for
        self._planning_early: asyncio.Task[None] | None = None
        self.stats.update({"early_plans": 0, "early_plans_taken": 0, "early_lookups": 0})

    def extra_topics(self) -> tuple[bytes, ...]:
        return (topic(wire.Transcript),) if self.early_plan else ()

    def on_bus(self, msg: Message) -> None:
        if wire.Heartbeat.is_type(msg.type):
            self.stages[msg.sender] = {**msg.body, "seen": time.time()}
        elif wire.Transcript.is_type(msg.type) and self.early_plan:
            heard = wire.Transcript.from_event(msg)
            if heard.pause and heard.text.strip():
                if self._planning_early is not None:  # words the user went on from: one in flight at most
                    self._planning_early.cancel()
                self._planning_early = spawn(self._plan_early(heard.text))

    async def _plan_early(self, text: str) -> None:
        """A speculative plan of the words heard at a pause (the module's docstring)."""
        rid = f"early-{new_id()}"
        try:
            got = wire.Retrieved.from_event(
                await self.retrieval.call(wire.Retrieve(text).event(rid, sender=self.name), timeout_s=30))
            early = self.early = EarlyPlan(text, self.config.request_now(), got, time.monotonic())
            plan = wire.Plan(text, early.now, got.tools, got.examples, None, self.voice_layout, speculative=True)
            self.stats["early_plans"] += 1
            async for reply in self.planner.stream(plan.event(rid, sender=self.name), timeout_s=60):
                if not wire.PlanCall.is_type(reply.type):
                    continue
                call = wire.PlanCall.from_event(reply)
                key = call_key(call.tool, tuple(call.args))
                if catalog.runs_early(call.tool, call.args) and key not in early.lookups:
                    early.lookups[key] = (call, spawn(self._look_up(rid, call)))
        except (StageError, TimeoutError) as e:  # only a head start lost: the request plans as usual
            log.warning("no early plan for %r: %s", text, e)

    async def _look_up(self, rid: str, call: wire.PlanCall) -> wire.CallOutcome | None:
        """A silent lookup of a speculative plan; None if the executor gave no outcome."""
        self.stats["early_lookups"] += 1
        msg = wire.Execute(call.idx, call.tool, call.args, False).event(rid, sender=self.name)
        try:
            return wire.CallOutcome.from_event(await self.executor.call(msg, timeout_s=30))
        except (StageError, TimeoutError) as e:  # the scheduler will run it
            log.warning("early lookup %s%s failed: %s", call.tool, tuple(call.args), e)
            return None

    def _early_for(self, ask: wire.Ask) -> EarlyPlan | None:
        """The speculation asked for exactly these words, still fresh, taken once."""
        early = self.early
        if (early is None or early.text != ask.text or ask.now or (ask.layout or "") != self.voice_layout
                or time.monotonic() - early.at > EARLY_PLAN_FRESH_S):
            return None
        self.early = None
        self.stats["early_plans_taken"] += 1
        return early

    async def handle(self, request: Request) -> None:
        msg = request.msg
        if wire.Status.is_type(msg.type):
            self.stages[self.name] = {"instance": self.instance, "pid": 0, "ready": True, "stats": self.stats,
                                      "seen": time.time()}
            stages = {name: {**info, "heartbeat_age_s": round(time.time() - info["seen"], 2)}
                      for name, info in self.stages.items()}
            await request.reply(wire.StatusReply(stages))
        elif wire.Cancel.is_type(msg.type):
            await self.publish(wire.Cancel().event(msg.request_id, sender=self.name))
            await request.reply(wire.Accepted())
        elif wire.Ask.is_type(msg.type):
            await self._ask(request)
        elif wire.Confirmed.is_type(msg.type):  # the user's answer, for the scheduler that asked
            await self.publish(wire.Confirmed.from_event(msg).event(msg.request_id, msg.trace_id, self.name))
        else:
            await request.error(f"the gateway does not take {msg.type!r} messages")

    async def _ask(self, request: Request) -> None:
        await request.reply(wire.Accepted(), keep=True)
        try:
            result = await asyncio.wait_for(self._work(request), self.timeout_s)
        except StageError as e:
            await request.error(f"{e.stage} failed: {e.message}", stage=e.stage)
        except TimeoutError:
            await request.error(f"no result within {self.timeout_s:g} s; stages: {self._health()}")
        else:
            await request.reply(result, keep=True)

    def _health(self) -> str:
        now = time.time()
        return ", ".join(f"{n} {'ready' if s['ready'] else 'loading'} ({now - s['seen']:.0f}s ago)"
                         for n, s in sorted(self.stages.items()) if n != self.name) or "none heard from"

    async def _work(self, request: Request) -> wire.Result:
        msg, ask = request.msg, wire.Ask.from_event(request.msg)
        known: list[dict[str, Any]] | None = None
        if (early := self._early_for(ask)) is not None:  # the plan is already being written
            now, got, known = early.now, early.retrieved, await early.known()
        else:
            now = ask.now or self.config.request_now()
            got = wire.Retrieved.from_event(
                await self.retrieval.call(msg.reply(wire.Retrieve(ask.text), self.name), timeout_s=30))
        run = msg.reply(wire.Run(ask.text, now, got.tools, got.examples,
                                 ask.policy or "", ask.layout, known), self.name)  # "": the scheduler's own policy
        async for reply in self.scheduler.stream(run, timeout_s=self.timeout_s):
            if wire.Progress.is_type(reply.type):
                await request.reply(wire.Progress.from_event(reply))
            elif wire.Confirm.is_type(reply.type):
                await request.reply(wire.Confirm.from_event(reply))
            elif wire.Result.is_type(reply.type):
                return wire.Result.from_event(reply)
        raise StageError("scheduler", "ended without a result")


if __name__ == "__main__":
    run_service(GatewayService)
