"""The retrieval stage: which tools and examples the planner gets for a request.

Until the embedding retriever lands (issue 6) it offers every tool and the default
examples (an empty answer means exactly that to the planner), so the pipeline has
its retrieval hop and the planner's prompt stays the full one."""

from __future__ import annotations

from shared.bus import Service, run_service
from shared.wire import Message


class RetrievalService(Service):
    name = "retrieval"

    async def handle(self, ident: bytes, msg: Message) -> None:
        if msg.type != "retrieve":
            await self.error(ident, msg.request_id, f"retrieval does not take {msg.type!r} messages")
            return
        await self.send(ident, msg.reply("retrieved", {"tools": [], "examples": [], "scores": {}}, self.name))


if __name__ == "__main__":
    run_service(RetrievalService)
