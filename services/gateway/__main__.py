"""The gateway: where requests come in (the CLI, the listener) and answers go out.

For each `ask` it answers `accepted`, asks retrieval for the tools and examples, hands
the request to the scheduler and relays its `progress` and `result`. It also keeps the
latest heartbeat of every stage for `status`, and turns `cancel` into bus news.
Every request ends, within [gateway] request_timeout_s, in a result or a clear error."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shared import wire
from shared.config import Config
from shared.runtime.bus import Request, Service, StageError, run_service
from shared.wire import Message

REQUEST_TIMEOUT_S = 240.0  # the default; [gateway] request_timeout_s


class GatewayService(Service):
    name = "gateway"
    once = frozenset({"ask"})  # an ask sent again joins the one running, or gets its result

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.timeout_s = float(config.gateway.get("request_timeout_s", REQUEST_TIMEOUT_S))
        self.retrieval = self.requester("retrieval", terminal={"retrieved"})
        self.scheduler = self.requester("scheduler", terminal={"result"})
        self.stages: dict[str, dict[str, Any]] = {}

    def on_bus(self, msg: Message) -> None:
        if wire.Heartbeat.is_type(msg.type):
            self.stages[msg.sender] = {**msg.body, "seen": time.time()}

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
        got = wire.Retrieved.from_event(
            await self.retrieval.call(msg.reply(wire.Retrieve(ask.text), self.name), timeout_s=30))
        run = msg.reply(wire.Run(ask.text, ask.now or self.config.request_now(), got.tools, got.examples,
                                 ask.policy or "", ask.layout), self.name)  # "": the scheduler's own policy
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
