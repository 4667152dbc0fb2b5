"""Talking to the running pipeline: `pippin up / down / status / ask`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared import config as config_mod
from shared import paths, wire
from shared.config import Config
from shared.runtime.bus import Bus, Requester, StageError, ensure_keys, news, spawn, topic
from shared.wire import encode, new_id

STAGES = config_mod.REQUEST_STAGES


def supervisor_env(config: Config) -> dict[str, str]:
    env = dict(os.environ)
    env["PIPPIN_RUN"] = str(config.run_dir)
    env["PIPPIN_PYTHON"] = sys.executable
    if config.source:
        env["PIPPIN_CONFIG"] = str(config.source.resolve())
    return env


def supervisorctl(config: Config, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "supervisorctl"), "-c",
                           str(paths.REPO_ROOT / "supervisord.conf"), *args],
                          env=supervisor_env(config), capture_output=True, text=True, check=check)


class PipelineClient:
    """A client of the gateway. Sends a request again, with the same id, when the
    gateway comes back as a new instance; every stage downstream is idempotent."""

    def __init__(self, config: Config) -> None:
        self.bus = Bus(config, "client")
        self.gateway = Requester(self.bus, "gateway", terminal={"result", "status_reply"})
        self._sub = self.bus.subscriber(topic(wire.Heartbeat), topic(wire.Ready))
        self._started = False

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self.gateway.start()

        async def listen() -> None:
            async for _, msg in news(self._sub):
                peer = (wire.Ready.from_event(msg) if wire.Ready.is_type(msg.type)
                        else wire.Heartbeat.from_event(msg))
                if msg.sender == "gateway" and getattr(peer, "ready", True):
                    self.gateway.peer_ready(peer.instance)

        spawn(listen())

    async def ask(self, text: str, *, request_id: str | None = None, now: str | None = None,
                  policy: str | None = None, layout: str | None = None, timeout_s: float = 300,
                  on_progress: Callable[[dict[str, Any]], None] | None = None,
                  on_confirm: Callable[[dict[str, Any]], Awaitable[bool]] | None = None) -> dict[str, Any]:
        """Run a request on the pipeline. Under the confirm policy `on_confirm` is asked about
        each outward call (a `confirm` body: question, tool, args); without it, nothing is sent.
        A question asked again (a stage restarted) gets the first answer, not a second prompt."""
        self._start()
        msg = wire.Ask(text, now, policy, layout).event(request_id or new_id(), new_id(), "client")
        answers: dict[str, bool] = {}
        async for reply in self.gateway.stream(msg, timeout_s=timeout_s):
            if wire.Progress.is_type(reply.type) and on_progress:
                on_progress(reply.body)
            elif wire.Confirm.is_type(reply.type):
                q = wire.Confirm.from_event(reply)
                same = f"{q.key}|{q.tool}|{q.args!r}"
                if same not in answers:
                    answers[same] = bool(on_confirm and await on_confirm(reply.body))
                await self.gateway.tell(reply.reply(wire.Confirmed(q.key, answers[same]), "client"))
            elif wire.Result.is_type(reply.type):
                return reply.body
        raise StageError("gateway", "no result")

    async def status(self, timeout_s: float = 5) -> dict[str, Any]:
        self._start()
        reply = await self.gateway.call(wire.Status().event(new_id(), sender="client"), timeout_s=timeout_s)
        return wire.StatusReply.from_event(reply).stages

    async def wait_ready(self, timeout_s: float, stages: tuple[str, ...] = STAGES) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                last = await self.status(timeout_s=2)
                if all(last.get(s, {}).get("ready") for s in stages):
                    return last
            except StageError:
                pass
            await asyncio.sleep(0.5)
        missing = [s for s in stages if not last.get(s, {}).get("ready")]
        raise StageError("pipeline", f"not ready after {timeout_s:g} s: {', '.join(missing)}")

    def close(self) -> None:
        self.bus.close()


def up(config: Config, timeout_s: float = 600, *, listen: bool = False) -> dict[str, Any]:
    """Start the stages (and, with `listen`, the always-on listener) and wait until ready."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    if config.curve:
        ensure_keys(config.keys_dir)
    if not (config.run_dir / "supervisor.sock").exists() or supervisorctl(config, "pid").returncode != 0:
        subprocess.run([str(Path(sys.executable).parent / "supervisord"), "-c",
                        str(paths.REPO_ROOT / "supervisord.conf")], env=supervisor_env(config), check=True)
    if listen:
        supervisorctl(config, "start", "listener")
        if config.speaker.get("enabled", True):
            supervisorctl(config, "start", "speaker")

    async def wait() -> dict[str, Any]:
        client = PipelineClient(config)
        try:
            voice = ("listener", "speaker") if config.speaker.get("enabled", True) else ("listener",)
            return await client.wait_ready(timeout_s, (*STAGES, *voice) if listen else STAGES)
        finally:
            client.close()

    return asyncio.run(wait())


def down(config: Config) -> None:
    supervisorctl(config, "shutdown")
    for _ in range(100):
        if not (config.run_dir / "supervisord.pid").exists():
            return
        time.sleep(0.1)


def status_table(config: Config) -> str:
    proc = supervisorctl(config, "status")
    processes = {}
    for line in proc.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2:
            processes[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else "")
    if not processes:
        return "pippin is not running (start it with `pippin up`)"

    async def get() -> dict[str, Any]:
        client = PipelineClient(config)
        try:
            return await client.status(timeout_s=3)
        except StageError:
            return {}
        finally:
            client.close()

    stages = asyncio.run(get())
    rows = [f"{'stage':<10} {'process':<9} {'ready':<6} {'heartbeat':<10} {'served':>6} {'errors':>6} "
            f"{'bad frames':>10} {'bad news':>8} {'shed':>5}  last error"]
    for name in config_mod.PROCESSES:
        state = processes.get(name, ("-", ""))[0]
        s = stages.get(name, {})
        st = s.get("stats", {})
        hb = f"{s['heartbeat_age_s']:.1f}s ago" if "heartbeat_age_s" in s else "-"
        rows.append(f"{name:<10} {state:<9} {('yes' if s.get('ready') else ('no' if s else '-')):<6} {hb:<10} "
                    f"{st.get('served', '-'):>6} {st.get('errors', '-'):>6} {st.get('bad_frames', '-'):>10} "
                    f"{st.get('bad_news', '-'):>8} {st.get('shed', '-'):>5}  "
                    f"{st.get('broken') or st.get('last_error', '')}")
    return "\n".join(rows)


def call_outcome(call: dict[str, Any]) -> str:
    """A call's result, or its state and why, as one line of a report."""
    return call["result"] if call["state"] == "done" else f"{call['state'].upper()}: {call['error']}"


def print_result(result: dict[str, Any]) -> None:
    """A result (services/scheduler/result.py's schema) for a person: the same for `ask` and
    `ask --local`."""
    secs = result["seconds"]
    plan_s = f" ({secs['plan']:.2f}s)" if secs.get("plan") is not None else ""
    print(f"plan{plan_s}:")
    for line in result["plan"].splitlines():
        print(f"  {line}")
    if result.get("planner_error"):
        print(f"  planner error: {result['planner_error']}")
    print("calls:")
    for c in result["calls"]:
        timing = f" [{c['start_s']:.2f}s -> {c['end_s']:.2f}s]" if c.get("start_s") is not None else ""
        print(f"  {c['idx']}. {c['tool']}{timing}\n       -> {call_outcome(c)}")
    print(f"\n{result['answer']}\n({secs['total']:.2f}s)")


async def ask_terminal(question: str) -> bool:
    """The confirm policy's prompt. Without a terminal to ask on, the answer is no."""
    if not sys.stdin.isatty():
        print(f"not confirmed (no terminal to ask): {question}", file=sys.stderr)
        return False
    reply = await asyncio.to_thread(input, f"Send: {question} [y/N] ")
    return reply.strip().lower() in ("y", "yes")


def ask_pipeline(args: Any) -> int:
    config = config_mod.load()

    async def go() -> dict[str, Any]:
        client = PipelineClient(config)
        try:
            progress = None if args.json else (lambda p: print(f"  .. {p['kind']} {p['idx']}. {p['tool']}",
                                                               flush=True))
            return await client.ask(args.text, now=args.now, policy=args.policy, on_progress=progress,
                                    on_confirm=lambda q: ask_terminal(q["question"]))
        finally:
            client.close()

    try:
        result = asyncio.run(go())
    except StageError as e:
        print(f"pippin: {e}", file=sys.stderr)
        if "no answer" in e.message and e.stage == "gateway":
            print("is the pipeline running? start it with `pippin up`", file=sys.stderr)
        return 1
    return show_result(result, as_json=args.json)


def show_result(result: dict[str, Any], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(result))
    else:
        print_result(result)
    return 0


async def send_audio(config: Config, pcm: bytes, *, realtime: bool = True, wait_s: float = 120,
                     on_transcript: Callable[[dict[str, Any]], None] | None = None,
                     on_start: Callable[[float], None] | None = None) -> dict[str, Any] | None:
    """Publish speech on the bus as numbered `audio` frames, for a listener stage with
    source = "bus", and return the result of the request it heard (None if none came).
    `on_start` is told when the first frame goes (time.monotonic(), the clock of trace spans)."""
    from services.listener.audio import frames_of

    bus = Bus(config, "client")
    pub = bus.publisher()
    sub = bus.subscriber(topic(wire.Transcript), topic(wire.Result))
    try:
        await asyncio.sleep(0.3)  # let the subscriptions reach the forwarder
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        async def watch() -> None:
            async for _, msg in news(sub):
                if wire.Transcript.is_type(msg.type) and on_transcript:
                    on_transcript(msg.body)
                elif wire.Result.is_type(msg.type) and not answer.done():
                    answer.set_result(msg.body)

        watcher = asyncio.ensure_future(watch())
        stream = new_id()  # the listener numbers this stream's frames after the last one it heard
        if on_start is not None:
            on_start(time.monotonic())  # frames_of paces frame k at this moment + k * 30 ms
        async for f in frames_of(pcm + b"\0\0" * 16000, realtime=realtime):
            frame = wire.Audio(f.seq, f.pcm, 16000, stream).event(sender="client")
            await pub.send_multipart([topic(wire.Audio), encode(frame)])
        try:
            return await asyncio.wait_for(answer, wait_s)
        except TimeoutError:
            return None
        finally:
            watcher.cancel()
    finally:
        bus.close()
