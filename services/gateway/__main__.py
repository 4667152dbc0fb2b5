"""The gateway: where requests come in (the CLI, the listener) and answers go out.

For each `ask` it answers `accepted`, asks retrieval for the tools and examples, hands
the request to the scheduler and relays its `progress` and `result`. It also keeps the
latest heartbeat of every stage for `status`, and turns `cancel` into bus news.
Every request ends, within [gateway] request_timeout_s, in a result or a clear error."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from shared.config import Config
from shared.runtime.bus import Service, StageError, run_service
from shared.wire import Message, new_id

KEEP_RESULTS = 256


class GatewayService(Service):
    name = "gateway"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.timeout_s = float(config.gateway.get("request_timeout_s", 240))
        self.retrieval = self.requester("retrieval", terminal={"retrieved"})
        self.scheduler = self.requester("scheduler", terminal={"result"})
        self.stages: dict[str, dict[str, Any]] = {}
        self.askers: dict[str, list[tuple[bytes, Message]]] = {}
        self.finished: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def on_bus(self, topic: bytes, msg: Message) -> None:
        if topic == b"hb":
            self.stages[msg.sender] = {**msg.body, "seen": time.time()}

    async def handle(self, ident: bytes, msg: Message) -> None:
        if msg.type == "status":
            self.stages[self.name] = {"instance": self.instance, "pid": 0, "ready": True, "stats": self.stats,
                                      "seen": time.time()}
            stages = {name: {**info, "heartbeat_age_s": round(time.time() - info["seen"], 2)}
                      for name, info in self.stages.items()}
            await self.send(ident, msg.reply("status_reply", {"stages": stages}, self.name))
        elif msg.type == "cancel":
            await self.publish(b"cancel", Message("cancel", {}, msg.request_id, sender=self.name))
            await self.send(ident, msg.reply("accepted", {}, self.name))
        elif msg.type == "ask":
            await self._ask(ident, msg)
        elif msg.type == "confirmed":  # the user's answer, for the scheduler that asked
            await self.publish(b"confirm", Message("confirmed", msg.body, msg.request_id, msg.trace_id, self.name))
        else:
            await self.error(ident, msg.request_id, f"the gateway does not take {msg.type!r} messages")

    async def _ask(self, ident: bytes, msg: Message) -> None:
        rid = msg.request_id or new_id()
        msg = Message(msg.type, msg.body, rid, msg.trace_id or new_id(), msg.sender)
        await self.send(ident, msg.reply("accepted", {}, self.name))
        if rid in self.finished:
            await self.send(ident, msg.reply("result", self.finished[rid], self.name))
            return
        if rid in self.askers:
            self.askers[rid].append((ident, msg))
            return
        self.askers[rid] = [(ident, msg)]
        try:
            body = await asyncio.wait_for(self._work(msg), self.timeout_s)
            reply_type = "result"
            self.finished[rid] = body
            while len(self.finished) > KEEP_RESULTS:
                self.finished.popitem(last=False)
        except StageError as e:
            reply_type, body = "error", {"message": f"{e.stage} failed: {e.message}", "stage": e.stage}
        except TimeoutError:
            reply_type, body = "error", {"message": f"no result within {self.timeout_s:g} s; "
                                                    f"stages: {self._health()}", "stage": self.name}
        for asker, request in self.askers.pop(rid, []):
            await self.send(asker, request.reply(reply_type, body, self.name))

    def _health(self) -> str:
        now = time.time()
        return ", ".join(f"{n} {'ready' if s['ready'] else 'loading'} ({now - s['seen']:.0f}s ago)"
                         for n, s in sorted(self.stages.items()) if n != self.name) or "none heard from"

    async def _work(self, msg: Message) -> dict[str, Any]:
        b = msg.body
        got = await self.retrieval.call(msg.reply("retrieve", {"text": b["text"]}, self.name), timeout_s=30)
        run = msg.reply("run", {"text": b["text"], "now": b.get("now") or self.config.request_now(),
                                "tools": got.body["tools"], "examples": got.body["examples"],
                                "policy": b.get("policy") or self.config.scheduler.get("policy", "draft"),
                                "layout": b.get("layout")},
                        self.name)
        async for reply in self.scheduler.stream(run, timeout_s=self.timeout_s):
            if reply.type in ("progress", "confirm"):
                for asker, request in self.askers.get(msg.request_id, []):
                    await self.send(asker, request.reply(reply.type, reply.body, self.name))
            elif reply.type == "result":
                return reply.body
        raise StageError("scheduler", "ended without a result")


if __name__ == "__main__":
    run_service(GatewayService)
