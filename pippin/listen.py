"""`pippin listen`: speech in, actions out, in one process on the simulated Mac.

Audio -> wake word -> endpointing -> streaming Whisper (services.listener) -> early
planning (pippin.early: the model warmed with the words so far, a speculative
plan at the first pause) -> the scheduler runs the final plan. Each turn reports wake
time, partial and final transcripts with times, the plan, the results, the answer, and
the latency from the end of speech to the first call dispatched (meaningful when audio is
streamed in real time)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pippin.early import EarlyPlanner, RetrieveFn
from services.executor.ledger import Executor
from services.listener.audio import Frame
from services.listener.listener import Event, Listener, Voice
from services.planner.base import Planner
from services.scheduler.engine import CallEvent, Policy, Scheduler, SchedulerSettings
from services.scheduler.result import single_result_json
from services.speaker.voice import Speaker, spoken_text
from shared.outcome import Outcome
from shared.plan import call_key


@dataclass
class Turn:
    transcript: str
    result: dict[str, Any]  # the one result schema (services/scheduler/result.py), as `pippin ask` gives it
    used_speculation: bool
    speculated_on: list[str]
    warmed_with: list[str]  # the words so far the model was warmed with while the user spoke
    speech_end_s: float  # audio time of the last voiced frame
    # Wall time from the end of speech to the first call dispatched; a lookup run early from
    # the speculative plan counts from when it ran, if the final plan has it.
    first_call_after_speech_s: float | None
    final_after_speech_s: float  # wall time from the end of speech to the final transcript


@dataclass
class ListenReport:
    events: list[Event] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "audio_s": round(self.audio_s, 3), "wall_s": round(self.wall_s, 3),
            "wake": [e.t_audio for e in self.events if e.kind == "wake"],
            "partials": [{"t": e.t_audio, "text": e.text, "stable": e.stable} for e in self.events
                         if e.kind in ("partial", "pause")],
            "finals": [{"t": e.t_audio, "text": e.text} for e in self.events if e.kind == "final"],
            "turns": [vars(t) for t in self.turns],
        }


async def listen(frames: AsyncIterator[Frame], voice: Voice, planner: Planner, executor: Executor, now: str, *,
                 early: bool = True, policy: Policy = Policy.DRAFT, retrieve: RetrieveFn | None = None,
                 speaker: Speaker | None = None) -> ListenReport:
    """Listen to `frames` and run each request heard. `retrieve`: narrow each plan's
    grammar to the tools retrieval chooses (the static prompt stays, so warming pays).
    `speaker`: say each answer; the wake word stops it (barge-in)."""
    report = ListenReport()
    if voice.wake is not None:
        voice.wake.reset()
    # The names the user may say: Whisper leans to them (Transcriber.expect_names).
    contacts = (await asyncio.to_thread(executor.backend.inventory)).get("contacts", [])
    voice.transcriber.expect_names(contacts if isinstance(contacts, list) else [])
    t0 = time.perf_counter()

    async def execute(rid: str, idx: int, tool: str, args: tuple[Any, ...], deliver: bool) -> Outcome:
        return await asyncio.to_thread(executor.execute, rid, idx, tool, args, deliver=deliver)

    async def lookup(rid: str, idx: int, tool: str, args: tuple[Any, ...]) -> Outcome:
        return await execute(rid, idx, tool, args, False)

    call_events: list[CallEvent] = []
    scheduler = Scheduler(execute, SchedulerSettings(policy=policy), on_event=call_events.append)
    request_id = uuid.uuid4().hex[:12]
    early_planner = EarlyPlanner(planner, lookup, now, request_id, enabled=early, retrieve=retrieve)
    planners = [early_planner]
    pending: list[asyncio.Task[None]] = []
    speaking: list[asyncio.Task[Any]] = []

    async def run_turn(final: Event) -> None:
        nonlocal early_planner, request_id
        speech_end_wall = t0 + final.t_audio
        calls, record, used = early_planner.final(final.text)
        turn_planner = early_planner  # its lookups may still be running: the scheduler waits for them
        speculated, warmed = list(early_planner.started), list(early_planner.warmed)
        rid = request_id
        # The next turn is another request, with speculation of its own.
        request_id = uuid.uuid4().hex[:12]
        early_planner = EarlyPlanner(planner, lookup, now, request_id, enabled=early, retrieve=retrieve)
        planners.append(early_planner)
        first: list[float] = []

        def on_event(e: CallEvent) -> None:
            if e.request_id == rid and e.kind in ("start", "done", "failed") and not first:
                first.append(e.at)
            call_events.append(e)

        scheduler.on_event = on_event
        result = await scheduler.run(rid, calls, reuse=turn_planner.reads)
        await record.finished()
        # A lookup the final plan took from the speculation was dispatched when it ran early.
        first += [turn_planner.read_started[call_key(c.tool, tuple(c.args))] for c in result.calls
                  if c.reused and call_key(c.tool, tuple(c.args)) in turn_planner.read_started]
        report.turns.append(Turn(
            final.text, single_result_json(rid, final.text, record.text, result, planner_error=record.error),
            used, speculated, warmed, final.t_audio,
            round(min(first) - speech_end_wall, 4) if first else None,
            round(final.t_wall - speech_end_wall, 4)))
        if speaker is not None:
            said = spoken_text(report.turns[-1].result["answer"])
            if said:
                speaking.append(asyncio.create_task(speaker.speak(said)))

    async def on_event(e: Event) -> None:
        if e.kind in ("wake", "speech"):
            early_planner.warm()  # the prompt up to "Request:" while the user starts to speak
        elif e.kind in ("partial", "pause") and e.stable:
            early_planner.consider(e.stable, whole=e.kind == "pause")
        elif e.kind == "final" and e.text.strip():
            pending.append(asyncio.create_task(run_turn(e)))
        if e.kind == "wake":  # barge-in: Pippin stops talking when called
            for task in speaking:
                task.cancel()

    listener = Listener(voice.settings, voice.transcriber, voice.wake, on_event,
                        busy=lambda: any(not t.done() for t in pending))
    last_t = 0.0

    async def counted() -> AsyncIterator[Frame]:
        nonlocal last_t
        async for f in frames:
            last_t = f.t
            yield f

    report.events = await listener.run(counted())
    for task in pending:
        await task
    await asyncio.gather(*speaking, return_exceptions=True)
    early_planner.final("")  # stops a speculation still running
    for p in planners:  # lookups run early for words the user then changed
        for read in p.reads.values():
            await asyncio.wait([read])
    report.audio_s = last_t
    report.wall_s = time.perf_counter() - t0
    return report
