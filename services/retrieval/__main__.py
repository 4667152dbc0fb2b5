"""The retrieval stage: which tools and examples the planner gets for a request.

Loads the sentence encoder and the trained tool classifier once (services.retrieval.
retriever), then answers each `retrieve` with the chosen tools, every tool's score and
the examples. With [retrieval] enabled = false it answers "all tools, default examples"
(an empty answer means exactly that to the planner)."""

from __future__ import annotations

import asyncio

from services.retrieval.retriever import Retriever
from shared import wire
from shared.config import Config
from shared.runtime.bus import Request, Service, run_service


class RetrievalService(Service):
    name = "retrieval"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.settings = config.retrieval
        self.retriever: Retriever | None = None

    def load(self) -> None:
        if self.settings.get("enabled", True):
            self.retriever = Retriever.load(k_examples=int(self.settings.get("k_examples", 3)),
                                            min_tools=int(self.settings.get("min_tools", 2)))
            self.retriever.retrieve("warm up")  # the first encode is slow; pay it before ready

    async def handle(self, request: Request) -> None:
        if not wire.Retrieve.is_type(request.msg.type):
            await request.error(f"retrieval does not take {request.msg.type!r} messages")
            return
        if self.retriever is None:  # retrieval off: every tool, the default examples
            await request.reply(wire.Retrieved([], []))
            return
        got = await asyncio.to_thread(self.retriever.retrieve, wire.Retrieve.from_event(request.msg).text)
        await request.reply(wire.Retrieved([] if got.fallback else list(got.tools),
                                           [e.to_json() for e in got.examples]))


if __name__ == "__main__":
    run_service(RetrievalService)
