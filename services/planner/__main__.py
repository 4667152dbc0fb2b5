"""The planner stage: loads its model once, then answers each `plan` with a stream of
`plan_call` messages, one per call the moment its line is complete, and a `plan_end`.

One model, one generation at a time: requests queue in arrival order. Decoding is
greedy, so a request sent again (after a restart) yields the same plan.

While someone speaks, the listener publishes their words so far (topic "transcript");
an idle planner evaluates its prompt up to those words (`prefill`, writing nothing), so
the plan for the final words starts with only the last few tokens to evaluate. That is
done for the layout voice requests ask for ([listener] plan_layout) when its prompt does
not depend on retrieval ("grammar", or retrieval off). The prompt opens with the time to the
minute and a table of the next days; on a real Mac that changes every minute, so as each
minute turns an idle planner evaluates the new one's ([planner] warm_each_minute).

At the first pause in speech the gateway asks for a speculative plan of the words so far
(`plan` with speculative = true, [listener] early_plan): it is written at once and streamed
back (the gateway runs its silent lookups early), unless a plan someone waits for is being
written (then a bare plan_end). A `plan` for exactly that request (words, moment, tools,
layout) then follows it, from the calls already written; any other request stops it first.
Only plans asked for ever reach the scheduler."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator

from services.planner.base import Planner, PlanRequest, PlanStream, calls_in_background
from services.planner.speculation import Speculation
from shared import wire
from shared.cases import Example
from shared.config import Config
from shared.plan import Call
from shared.runtime.bus import Request, Service, run_service, spawn, topic
from shared.wire import Message

log = logging.getLogger("pippin.planner")


def make_planner(config: Config) -> Planner:
    settings = config.planner
    kind = settings.get("kind", "llm")
    if kind == "reference":
        from services.planner.reference import ReferencePlanner
        from shared.cases import load_cases

        if not settings.get("cases"):
            raise SystemExit("planner: kind = 'reference' needs [planner] cases = 'FILE.jsonl'")
        return ReferencePlanner.from_cases(load_cases(settings["cases"]), float(settings.get("line_delay_s", 0)))
    if kind == "llm":
        from services.planner.grounding import Inventory
        from services.planner.llm import LlmPlanner, PlannerSettings

        s = PlannerSettings()
        for key in ("model", "template", "grammar", "max_calls", "max_tokens", "n_ctx", "tool_layout", "lora_path",
                    "decoder", "draft_tokens", "jump_forward", "batch_invariant", "grounding",
                    "merge_repeats", "merge_adapter"):
            if key in settings:
                setattr(s, key, settings[key])
        world = config.simulated_world()
        if world is not None:  # on a real Mac the names stay free until the executor can list them
            s.inventory = Inventory.from_world(json.loads(world.read_text(encoding="utf-8")))
        return LlmPlanner(s)
    raise SystemExit(f"planner: unknown kind {kind!r} (llm or reference)")


class PlannerService(Service):
    name = "planner"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.planner: Planner | None = None
        self._one_at_a_time = asyncio.Lock()
        self.voice_layout = str(config.listener.get("plan_layout", "grammar"))
        # Warming pays only where the prompt is the same whatever retrieval finds.
        self.warms = self.voice_layout == "grammar" or not config.retrieval.get("enabled", True)
        self._warming: asyncio.Task[int] | None = None
        self.early_plan = bool(config.listener.get("early_plan", True))
        self.speculation: Speculation | None = None
        self.stats.update({"warm_tokens": 0, "speculations": 0, "speculations_used": 0, "speculations_dropped": 0,
                           "speculations_refused": 0})
        self.warm_each_s = 60.0 if config.planner.get("warm_each_minute", True) else 0.0

    def load(self) -> None:
        self.planner = make_planner(self.config)

    def _take_inventory(self, msg: Message) -> None:
        """The executor's names replace what grounding knew (the simulated world file as it was
        at start, or nothing on a real Mac)."""
        from services.planner.grounding import Inventory

        settings = getattr(self.planner, "settings", None)
        if settings is None or not hasattr(settings, "inventory"):
            return  # a planner without grounding (the reference planner)
        news = wire.MacInventory.from_event(msg)
        settings.inventory = Inventory.from_message(news)
        self.stats["inventory"] = {"calendars": len(news.calendars), "reminder_lists": len(news.reminder_lists),
                                   "note_folders": len(news.note_folders), "notes": len(news.notes),
                                   "contacts": len(news.contacts)}

    def extra_topics(self) -> tuple[bytes, ...]:
        return (topic(wire.MacInventory), topic(wire.Transcript)) if self.warms else (topic(wire.MacInventory),)

    def on_bus(self, msg: Message) -> None:
        if wire.MacInventory.is_type(msg.type):
            self._take_inventory(msg)
            return
        if not wire.Transcript.is_type(msg.type):
            return
        heard = wire.Transcript.from_event(msg)
        if not heard.final and not (heard.pause and self.early_plan):  # at a pause the gateway asks for a plan
            self._warm(heard.stable)

    async def started(self) -> None:
        """A typed request after a quiet minute would evaluate the new minute's date table
        first (~100 tokens, about a second on 2 cores): just after each minute turns, it is
        evaluated while the planner idles (with the simulated Mac's fixed clock, once)."""
        if not (self.warms and self.warm_each_s):
            return
        while True:
            await asyncio.sleep(self.warm_each_s - time.time() % self.warm_each_s + 0.5)
            self._warm("")

    def _warm(self, words: str) -> None:
        """Evaluate the prompt up to `words` (the user's so far) in the background, if the
        planner is idle; never waits for it."""
        prefill = getattr(self.planner, "prefill", None)
        if (prefill is None or self._one_at_a_time.locked()
                or (self._warming is not None and not self._warming.done())):
            return
        request = PlanRequest(words, self.config.request_now(), layout=self.voice_layout)
        self._warming = asyncio.get_running_loop().create_task(asyncio.to_thread(prefill, request))
        self._warming.add_done_callback(self._warmed)

    def _warmed(self, task: asyncio.Task[int]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.warning("warming the prompt failed: %s", task.exception())
            self.stats["last_error"] = f"warming failed: {task.exception()}"[:300]
        else:
            self.stats["warm_tokens"] += task.result()

    async def handle(self, request: Request) -> None:
        msg = request.msg
        if not (wire.Plan.is_type(msg.type) or wire.Decide.is_type(msg.type)):
            await request.error(f"planner does not take {msg.type!r} messages")
            return
        if wire.Plan.is_type(msg.type):
            asked = wire.Plan.from_event(msg)
            plan_request = PlanRequest(asked.text, asked.now, tuple(asked.tools),
                                       tuple(Example.from_json(e) for e in asked.examples), asked.context or "",
                                       asked.layout or "")
            if asked.speculative:
                await self._speculate(request, plan_request)
                return
            if (spec := self._speculation_for(plan_request)) is not None:
                await self._send_plan(request, spec.follow(), spec.record)
                return
        self._drop_speculation()  # a request someone waits for comes first
        async with self._one_at_a_time:
            if wire.Plan.is_type(msg.type):
                assert self.planner is not None
                record = PlanStream()
                await self._send_plan(request, calls_in_background(self.planner, plan_request, record), record)
            else:
                await self._decide(request)

    async def _decide(self, request: Request) -> None:
        """The joiner's Finish/Replan step. A planner without a model always finishes."""
        decide = getattr(self.planner, "decide", None)
        asked = wire.Decide.from_event(request.msg)
        action = await asyncio.to_thread(decide, asked.text, asked.observations) if decide else "finish"
        await request.reply(wire.Decision(action))

    async def _send_plan(self, request: Request, calls: AsyncIterator[Call], record: PlanStream) -> None:
        """Each call as a `plan_call` the moment it is written, then `plan_end`."""
        try:
            async for call in calls:
                await request.reply(wire.PlanCall(call.idx, call.tool, list(call.args)))
        except RuntimeError as e:
            record.error = record.error or str(e)  # a stopped speculation has no error of its own
        await request.reply(wire.PlanEnd(record.error))

    async def _speculate(self, request: Request, plan_request: PlanRequest) -> None:
        """Write a plan nobody has asked for yet, streamed to the gateway as it is written."""
        if self._one_at_a_time.locked():  # a plan or a speculation is being written: it goes on
            self.stats["speculations_refused"] += 1
            await request.reply(wire.PlanEnd(None))
            return
        self._drop_speculation()
        spec = self.speculation = Speculation(plan_request.query, plan_request)
        spec.task = spawn(self._write_speculation(spec, plan_request))
        self.stats["speculations"] += 1
        await self._send_plan(request, spec.follow(), spec.record)

    async def _write_speculation(self, spec: Speculation, plan_request: PlanRequest) -> None:
        assert self.planner is not None
        try:
            async with self._one_at_a_time:
                async for call in calls_in_background(self.planner, plan_request, spec.record):
                    spec.add(call)
        except RuntimeError:
            pass  # in spec.record.error, for the plan that follows it
        finally:
            spec.ended()

    def _speculation_for(self, plan_request: PlanRequest) -> Speculation | None:
        """The speculation written for exactly this request, taken (a plan is followed once)."""
        spec = self.speculation
        if spec is None or spec.request != plan_request or not spec.usable():
            return None
        self.speculation = None
        self.stats["speculations_used"] += 1
        return spec

    def _drop_speculation(self) -> None:
        """Stop a speculation still being written: the words it planned were not the request."""
        spec, self.speculation = self.speculation, None
        if spec is not None and not spec.task_done():
            abort = getattr(self.planner, "abort", None)
            if abort is not None:
                abort()
            assert spec.task is not None
            spec.task.cancel()
            self.stats["speculations_dropped"] += 1


if __name__ == "__main__":
    run_service(PlannerService)
