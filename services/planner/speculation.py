"""A speculative plan: written before anyone asks for it, followed by whoever does.

At the first pause in speech the whole utterance so far is planned (`pippin listen`:
pippin.early; the pipeline: the planner stage, asked by the gateway). When the final
words are the ones planned, the request follows that plan: the calls already written
at once, the rest as the model writes them. Otherwise the speculation is stopped and
the final words are planned. A speculation only ever writes a plan; nothing runs from
it but what the caller chooses (early lookups in pippin.early, nothing in the pipeline)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from services.planner.base import PlanRequest, PlanStream
from shared.plan import Call


@dataclass
class Speculation:
    text: str  # the words planned
    # What the plan was made from, when the caller compares requests whole (the planner stage);
    # None where it compares words (pippin.early, which retrieves inside the speculation).
    request: PlanRequest | None = None
    calls: list[Call] = field(default_factory=list)
    record: PlanStream = field(default_factory=PlanStream)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def task_done(self) -> bool:
        return self.task is None or self.task.done()

    def add(self, call: Call) -> None:
        self.calls.append(call)
        self.changed.set()

    def ended(self) -> None:
        """The plan is written (or failed: record.error), or the writing was stopped."""
        self.changed.set()

    def usable(self) -> bool:
        return self.task is not None and not self.task.cancelled()

    async def follow(self) -> AsyncIterator[Call]:
        """The speculation's calls: those already planned at once, the rest as they come;
        a failed plan raises as calls_in_background does for a plan made now."""
        sent = 0
        while True:
            while sent < len(self.calls):
                yield self.calls[sent]
                sent += 1
            assert self.task is not None
            if self.task.done():
                if self.task.cancelled():
                    raise RuntimeError("the speculative plan was stopped before it was written")
                if self.record.error:
                    raise RuntimeError(f"the planner failed: {self.record.error}")
                return
            self.changed.clear()
            if sent < len(self.calls):
                continue
            await self.changed.wait()
