"""What every planner offers: a request in, plan text out, streamed as it is written."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from shared.cases import Example
from shared.plan import Call, StreamingPlanParser


@dataclass(frozen=True)
class PlanRequest:
    query: str
    now: str  # "YYYY-MM-DD HH:MM:SS", what relative dates resolve against
    # Tool and example subsets chosen by retrieval; empty means "all tools, default examples".
    tools: tuple[str, ...] = ()
    examples: tuple[Example, ...] = field(default=())
    # A replan: the earlier plan of this request with each call's result (see
    # services.scheduler.replan.observations); empty for a first plan.
    context: str = ""
    # The prompt layout for this request (see PlannerSettings.tool_layout); "" for the
    # planner's own. Voice asks the static "grammar" layout, which a warmed cache serves.
    layout: str = ""


class Planner(Protocol):
    name: str

    def stream(self, request: PlanRequest) -> Iterator[str]:
        """Yields the plan text in chunks (tokens, or lines) as soon as they exist."""
        ...


@dataclass
class PlanStream:
    """What a streamed plan left behind once it ended."""

    text: str = ""
    error: str | None = None
    # Set once text and error are final. A consumer that stopped reading at join() (the
    # scheduler does) waits on it before it reports the plan: the model may still be
    # writing its last tokens in its thread.
    done: threading.Event = field(default_factory=threading.Event)

    async def finished(self, timeout_s: float = 30) -> None:
        await asyncio.to_thread(self.done.wait, timeout_s)


async def calls_in_background(planner: Planner, request: PlanRequest, record: PlanStream) -> AsyncIterator[Call]:
    """Run the (blocking) planner in a thread and yield each call as soon as its line is
    parsed, so the event loop can start it while the model writes the rest. The full
    text and any error end up in `record`; an error is raised after the calls before it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Call | None] = asyncio.Queue()

    def deliver(item: Call | None) -> None:
        # RuntimeError: the consumer's loop is gone (it stopped listening): nothing to deliver to.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def generate() -> None:
        parser = StreamingPlanParser()
        chunks: list[str] = []
        try:
            for chunk in planner.stream(request):
                chunks.append(chunk)
                for item in parser.feed(chunk):
                    if isinstance(item, Call):
                        deliver(item)
            for item in parser.close():
                if isinstance(item, Call):
                    deliver(item)
        except Exception as e:
            record.error = f"{type(e).__name__}: {e}"
        finally:
            record.text = "".join(chunks)
            record.done.set()
            deliver(None)

    threading.Thread(target=generate, name="planner", daemon=True).start()
    while (call := await queue.get()) is not None:
        yield call
    if record.error:
        raise RuntimeError(f"the planner failed: {record.error}")
