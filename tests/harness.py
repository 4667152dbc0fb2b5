"""One stage in this process, over real ZeroMQ sockets, without supervisord.

The bus forwarder runs in a thread, the stage's own loop (`Service.main`) as a task, and the
harness is both a client of the stage and a subscriber to the bus:

    async with StageHarness(ExecutorService, tmp_path) as stage:
        replies = await stage.ask(Message("execute", {...}, "r1"))
        news = await stage.news(b"inventory")
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from services.bus.__main__ import forward
from shared import config as config_mod
from shared import paths
from shared.config import Config
from shared.runtime.bus import Bus, Service
from shared.wire import Message, decode, encode

TERMINAL = frozenset({"outcome", "result", "error", "plan_end", "retrieved", "decision", "status_reply"})


class StageHarness:
    def __init__(self, factory: Callable[[Config], Service], tmp_path: Path,
                 settings: dict[str, dict[str, Any]] | None = None, topics: tuple[bytes, ...] = (b"",)) -> None:
        self.config = config_mod.load(paths.CONFIG_DIR / "pippin.toml", tmp_path / "run")
        for section, values in (settings or {}).items():
            getattr(self.config, section).update(values)
        self.service = factory(self.config)
        self.topics = topics
        self._ctx: zmq.Context[Any] = zmq.Context()
        self._control_addr = f"inproc://harness-control-{id(self)}"
        self._forwarder: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None
        self.client = Bus(self.config, "harness")

    async def __aenter__(self) -> StageHarness:
        control = self._ctx.socket(zmq.PAIR)
        control.bind(self._control_addr)
        self._control = self._ctx.socket(zmq.PAIR)
        self._control.connect(self._control_addr)
        self._forwarder = threading.Thread(target=forward, args=(self.config, self._ctx, control), daemon=True)
        self._forwarder.start()
        self.sub = self.client.subscriber(*self.topics)
        self.dealer = self.client.dealer(self.service.name)
        self._task = asyncio.create_task(self.service.main())
        for _ in range(600):  # the stage loads (a model, a world), then says it is ready
            if self.service.ready or self._task.done():
                break
            await asyncio.sleep(0.05)
        if self._task.done():
            self._task.result()  # its exception, if it failed to start
        assert self.service.ready, f"{self.service.name} did not get ready in 30 s"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None and self._forwarder is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.service.bus.close()
        self.client.close()
        self._control.send(b"TERMINATE")
        self._forwarder.join(5)
        self._control.close(linger=0)
        self._ctx.term()

    async def ask(self, msg: Message, timeout_s: float = 30.0) -> list[Message]:
        """Send one request; its replies up to and including the terminal one."""
        await self.dealer.send(encode(msg))
        replies: list[Message] = []
        while not replies or replies[-1].type not in TERMINAL:
            replies.append(decode(await asyncio.wait_for(self.dealer.recv(), timeout_s)))
        return replies

    async def news(self, topic: bytes, timeout_s: float = 10.0) -> Message:
        """The next message published under `topic`."""
        async def next_one() -> Message:
            while True:
                got, frame = await self.sub.recv_multipart()
                if got == topic:
                    return decode(frame)

        return await asyncio.wait_for(next_one(), timeout_s)

    async def publish(self, topic: bytes, msg: Message) -> None:
        """Put news on the bus as another stage would."""
        if not hasattr(self, "_pub"):
            self._pub = self.client.publisher()
            await asyncio.sleep(0.3)  # a new publisher's first messages are lost until it is connected
        await self._pub.send_multipart([topic, encode(msg)])
