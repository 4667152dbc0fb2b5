"""The gateway: where requests come in (the CLI, the listener) and answers go out.

For each `ask` it answers `accepted`, asks retrieval for the tools and examples, hands
the request to the scheduler and relays its `progress` and `result`. It also keeps the
latest heartbeat of every stage for `status`, and turns `cancel` into bus news.
Every request ends, within [gateway] request_timeout_s, in a result or a clear error."""

from __future__ import annotations

import asyncio
import time
from typing import Any

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

    def on_bus(self, topic: bytes, msg: Message) -> None:
        if topic == b"hb":
            self.stages[msg.sender] = {**msg.body, "seen": time.time()}

    async def handle(self, request: Request) -> None:
        msg = request.msg
        if msg.type == "status":
            self.stages[self.name] = {"instance": self.instance, "pid": 0, "ready": True, "stats": self.stats,
                                      "seen": time.time()}
            stages = {name: {**info, "heartbeat_age_s": round(time.time() - info["seen"], 2)}
                      for name, info in self.stages.items()}
            await request.reply("status_reply", {"stages": stages})
        elif msg.type == "cancel":
            await self.publish(b"cancel", Message("cancel", {}, msg.request_id, sender=self.name))
            await request.reply("accepted", {})
        elif msg.type == "ask":
            await self._ask(request)
        elif msg.type == "confirmed":  # the user's answer, for the scheduler that asked
            await self.publish(b"confirm", Message("confirmed", msg.body, msg.request_id, msg.trace_id, self.name))
        else:
            await request.error(f"the gateway does not take {msg.type!r} messages")

    async def _ask(self, request: Request) -> None:
        await request.reply("accepted", {}, keep=True)
        try:
            body = await asyncio.wait_for(self._work(request), self.timeout_s)
        except StageError as e:
            await request.error(f"{e.stage} failed: {e.message}", stage=e.stage)
        except TimeoutError:
            await request.error(f"no result within {self.timeout_s:g} s; stages: {self._health()}")
        else:
            await request.reply("result", body, keep=True)

    def _health(self) -> str:
        now = time.time()
        return ", ".join(f"{n} {'ready' if s['ready'] else 'loading'} ({now - s['seen']:.0f}s ago)"
                         for n, s in sorted(self.stages.items()) if n != self.name) or "none heard from"

    async def _work(self, request: Request) -> dict[str, Any]:
        msg, b = request.msg, request.body
        got = await self.retrieval.call(msg.reply("retrieve", {"text": b["text"]}, self.name), timeout_s=30)
        run = msg.reply("run", {"text": b["text"], "now": b.get("now") or self.config.request_now(),
                                "tools": got.body["tools"], "examples": got.body["examples"],
                                "policy": b.get("policy") or self.config.scheduler.get("policy", "draft"),
                                "layout": b.get("layout")},
                        self.name)
        async for reply in self.scheduler.stream(run, timeout_s=self.timeout_s):
            if reply.type in ("progress", "confirm"):
                await request.reply(reply.type, reply.body)
            elif reply.type == "result":
                return reply.body
        raise StageError("scheduler", "ended without a result")


if __name__ == "__main__":
    run_service(GatewayService)
