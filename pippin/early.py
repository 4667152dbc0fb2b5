"""Early planning: start planning from what the user has said so far.

While the user speaks, the model is warmed: the prompt up to the words heard so far (at
the wake word, the prompt up to "Request:") is evaluated into its KV cache, writing
nothing (`warm`). That is cheap (a few tokens per stable partial) and is most of a plan's
cost on a small CPU: the date table and the request are ~100 new prompt tokens.
At a pause (the first silent frame) the whole utterance so far is planned for real: a
speculative plan. Planning a partial transcript is not worth it: its words are
nearly always overtaken, and on 2 cores the speculation then only slows the decodes and
the plan that count (measured: bench/voice_bench.py). Lookups in the speculative plan that
neither change nor show anything (catalog.SILENT_LOOKUPS) run at once; nothing else does.
When the final transcript comes:
- if it is the text the speculation planned (ignoring case and punctuation), that plan is
  used, with the lookups already done;
- otherwise the speculation is stopped and a plan is made from the final text; lookups
  the speculation did with the same arguments are still reused (a lookup is a lookup).
Calls with effects only ever run from the final plan, through the scheduler: a call the
final plan does not contain never runs.
With a retriever (`retrieve`), each plan asks for the static "grammar" layout: the prompt
the warming prepared, with only the grammar narrowed to the tools retrieval finds, as
voice requests do in the pipeline (services.listener.__main__)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from services.planner.base import Planner, PlanRequest, PlanStream, calls_in_background
from services.planner.speculation import Speculation
from shared import catalog
from shared.cases import Example
from shared.outcome import Outcome
from shared.plan import Call, call_key

log = logging.getLogger("pippin.listener")

# Lookups that neither change the Mac nor show anything on screen.
EARLY_TOOLS = frozenset({"get_phone_number", "get_email_address"})

LookupFn = Callable[[str, int, str, tuple[object, ...]], Awaitable[Outcome]]
# A request's text -> the tools (and examples) retrieval chooses for it.
RetrieveFn = Callable[[str], tuple[tuple[str, ...], tuple[Example, ...]]]


def same_words(a: str, b: str) -> bool:
    def norm(t: str) -> list[str]:
        return ["".join(ch for ch in w.casefold() if ch.isalnum()) for w in t.split()]

    return [w for w in norm(a) if w] == [w for w in norm(b) if w]


class EarlyPlanner:
    def __init__(self, planner: Planner, lookup: LookupFn, now: str, request_id: str, *, min_words: int = 3,
                 enabled: bool = True, retrieve: RetrieveFn | None = None) -> None:
        self.planner = planner
        self.retrieve = retrieve
        self.lookup = lookup
        self.now = now
        self.request_id = request_id
        self.min_words = min_words
        self.enabled = enabled
        self.spec: Speculation | None = None
        # Lookups run early, by call_key(): the final plan's scheduler takes their outcomes
        # (waiting for one still running) instead of running them again.
        self.reads: dict[str, asyncio.Task[Outcome]] = {}
        self.read_started: dict[str, float] = {}  # when each was dispatched (perf_counter)
        self.started: list[str] = []  # texts speculated on, for reports
        self.warmed: list[str] = []  # texts the model was warmed with
        self._warming: asyncio.Task[int] | None = None

    def consider(self, text: str, *, whole: bool = False) -> None:
        """A new transcript: a stable partial warms the model with its words; the whole
        utterance at a pause (`whole`) is planned, replacing any other speculation."""
        if not self.enabled:
            return
        if not whole:
            self.warm(text)
            return
        if len(text.split()) < self.min_words or (self.spec is not None and same_words(self.spec.text, text)):
            return
        self._stop()
        self.spec = Speculation(text)
        self.spec.task = asyncio.create_task(self._speculate(self.spec))
        self.started.append(text)

    def warm(self, text: str = "") -> None:
        """Evaluate the prompt up to `text` in the background, if the planner can (an LLM
        planner's `prefill`) and is not busy; one at a time, never while a plan is written."""
        prefill = getattr(self.planner, "prefill", None)
        busy = self._warming is not None and not self._warming.done()
        if not self.enabled or prefill is None or busy or (self.spec is not None and not self.spec.task_done()):
            return
        self._warming = asyncio.create_task(asyncio.to_thread(prefill, self._request(text)))
        self.warmed.append(text)

    def _request(self, text: str, tools: tuple[str, ...] = (), examples: tuple[Example, ...] = ()) -> PlanRequest:
        return PlanRequest(text, self.now, tools, examples, layout="grammar" if self.retrieve else "")

    async def _plan(self, text: str, record: PlanStream) -> AsyncIterator[Call]:
        """The calls of a plan for `text`, retrieval first when there is a retriever."""
        request = self._request(text)
        if self.retrieve is not None:
            try:
                request = self._request(text, *await asyncio.to_thread(self.retrieve, text))
            except Exception:  # retrieval only narrows: plan with all tools rather than not at all
                log.exception("retrieval failed for %r; planning with all tools", text)
        async for call in calls_in_background(self.planner, request, record):
            yield call

    def _stop(self) -> None:
        if self.spec is not None and self.spec.task is not None and not self.spec.task.done():
            abort = getattr(self.planner, "abort", None)
            if abort:
                abort()
            self.spec.task.cancel()

    async def _speculate(self, spec: Speculation) -> None:
        try:
            async for call in self._plan(spec.text, spec.record):
                spec.add(call)
                if catalog.runs_early(call.tool, call.args):
                    key = call_key(call.tool, call.args)
                    if key not in self.reads:
                        self.read_started[key] = time.perf_counter()
                        self.reads[key] = asyncio.create_task(self.lookup(
                            f"{self.request_id}~early", len(self.reads) + 1, call.tool, call.args))
        except RuntimeError:
            pass  # the planner failed: the final plan is made from scratch
        finally:
            spec.ended()

    def final(self, text: str) -> tuple[AsyncIterator[Call], PlanStream, bool]:
        """The calls to run for the final transcript, the record of their plan, and whether
        the speculation was used. `reads` holds the lookups run early (done or running)."""
        spec = self.spec
        if spec is not None and same_words(spec.text, text) and spec.usable():
            return spec.follow(), spec.record, True
        self._stop()
        record = PlanStream()
        return self._plan(text, record), record, False
