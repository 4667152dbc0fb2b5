"""The pipeline under abuse, as figures for `make bench` and the README:

- fuzz: 100,000 malformed frames at every stage's request socket and on the bus under every
  topic (pippin/fuzz.py); afterwards the age of every heartbeat in status and one request.
- soak: 1,000 requests (the reference planner, four in flight) with a random stage killed
  (SIGKILL) every 100, then 50 with the real planner (0.5B with the adapter, retrieval) and
  one kill: requests answered, errors (apart from the requests in flight at a kill, which
  must end in an answer or a clear error), effects recorded twice, RSS per stage at start
  and end."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import time
from collections import Counter
from contextlib import AbstractContextManager
from typing import Any

import zmq

from bench.e2e_bench import _rss_mb
from bench.pipeline_bench import running_pipeline
from pippin.client import PipelineClient, supervisorctl
from pippin.demo_requests import DEMO
from pippin.fuzz import STAGES, fuzz
from shared import wire
from shared.config import Config
from shared.runtime.bus import HEARTBEAT_S, HWM, StageError
from shared.wire import encode

NOW = "2026-11-23 09:30:00"
ALL = (*STAGES, "bus", "watchdog")


def pipeline(planner: str, retrieval: bool = True) -> AbstractContextManager[Config]:
    return running_pipeline(planner, retrieval=retrieval,
                            extra="[watchdog]\nheartbeat_timeout_s = 10\nstartup_grace_s = 60\n")


# A delay per plan line, so that a kill lands while requests are in flight.
REFERENCE = 'kind = "reference"\ncases = "{cases}"\nline_delay_s = 0.05'
REAL = 'kind = "llm"\nmodel = "qwen-0.5b"'


def _pids(config: Config) -> dict[str, int]:
    out = {}
    for stage in ALL:
        pid = supervisorctl(config, "pid", stage).stdout.strip()
        if pid.isdigit() and pid != "0":
            out[stage] = int(pid)
    return out


def _rss(config: Config) -> dict[str, float | None]:
    return {stage: _rss_mb(pid) for stage, pid in _pids(config).items()}


def _effects_twice(config: Config) -> int:
    db = sqlite3.connect(config.run_dir / "simmac.sqlite")
    try:
        keys = Counter(k for (k,) in db.execute("SELECT call_key FROM effects"))
    finally:
        db.close()
    return sum(1 for v in keys.values() if v > 1)


async def _status(config: Config) -> dict[str, Any]:
    c = PipelineClient(config)
    try:
        await asyncio.sleep(1.5 * HEARTBEAT_S)
        return await c.status()
    finally:
        c.close()


async def _ask(config: Config, text: str) -> dict[str, Any]:
    c = PipelineClient(config)
    try:
        return await c.ask(text, now=NOW, timeout_s=60)
    finally:
        c.close()


async def _wait_ready(config: Config) -> None:
    c = PipelineClient(config)
    try:
        await c.wait_ready(300)
    finally:
        c.close()


def fuzz_run(n: int = 100_000) -> dict[str, Any]:
    with pipeline(REFERENCE, retrieval=False) as config:
        rss_before = _rss(config)
        report = fuzz(config, n, seed=1)
        stages = asyncio.run(_status(config))
        result = asyncio.run(_ask(config, DEMO[0][0]))
        rss_after = _rss(config)
        slow = slow_subscriber(config)
    return {"slow_subscriber": slow, "frames": n, "seconds": round(report.seconds, 1),
            "frames_per_s": round(n / report.seconds),
            "request_frames_answered": f"{report.replies} of {report.sent_requests}",
            "bus_frames": report.sent_news,
            "heartbeat_age_s_max_after": max(s["heartbeat_age_s"] for k, s in stages.items() if k in STAGES),
            "stages_heard": sorted(k for k in stages if k in STAGES),
            "bad_news_counted": {k: stages[k]["stats"]["bad_news"] for k in STAGES if k in stages},
            "request_after_answered": bool(result.get("answer")),
            "rss_mb_before_after": {k: [rss_before.get(k), rss_after.get(k)] for k in rss_after}}


def slow_subscriber(config: Config, n: int = 50_000) -> dict[str, Any]:
    """A subscriber that never reads beside one that does: the bus drops for the slow one
    (its queue is bounded) and the others get everything, heartbeats included."""
    ctx = zmq.Context()
    try:
        slow, fast = ctx.socket(zmq.SUB), ctx.socket(zmq.SUB)
        for sock in (slow, fast):
            sock.linger = 0
            sock.rcvhwm = HWM
            sock.connect(config.endpoint("bus_out"))
            sock.setsockopt(zmq.SUBSCRIBE, b"trace")
        pub = ctx.socket(zmq.PUB)
        pub.linger, pub.sndhwm = 0, n
        pub.connect(config.endpoint("bus_in"))
        time.sleep(0.5)
        bus_pid = _pids(config).get("bus")
        rss_before = _rss_mb(bus_pid) if bus_pid else None
        frame = encode(wire.Trace([["x" * 1000]]).event(sender="bench"))
        got, t0 = 0, time.monotonic()
        for _ in range(n):
            pub.send_multipart([b"trace", frame])
            while fast.poll(0):
                fast.recv_multipart()
                got += 1
        while fast.poll(1000):
            fast.recv_multipart()
            got += 1
        seconds = time.monotonic() - t0
        rss_after = _rss_mb(bus_pid) if bus_pid else None
    finally:
        ctx.destroy(linger=0)
    stages = asyncio.run(_status(config))
    return {"messages": n, "fast_subscriber_received": got, "seconds": round(seconds, 1),
            "bus_rss_mb_before_after": [rss_before, rss_after],
            "heartbeat_age_s_max_after": max(s["heartbeat_age_s"] for k, s in stages.items() if k in STAGES)}


def _soak(config: Config, n: int, kill_every: int, in_flight: int, seed: int, label: str) -> dict[str, Any]:
    rng = random.Random(seed)
    queries = [q for q, _ in DEMO]
    async def warm_up() -> None:
        c = PipelineClient(config)
        try:
            for q in queries[:in_flight]:
                await c.ask(q, now=NOW, timeout_s=120)
        finally:
            c.close()

    asyncio.run(warm_up())
    pids_start, rss_start = _pids(config), _rss(config)
    answered, errors, at_kill_errors, kills = 0, [], 0, []
    t0 = time.monotonic()

    async def batch(start: int, kill: str | None) -> list[object]:
        c = PipelineClient(config)
        try:
            asks = [asyncio.create_task(c.ask(queries[(start + i) % len(queries)], now=NOW, timeout_s=180,
                                              request_id=f"{label}-{start + i}")) for i in range(in_flight)]
            if kill:
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                os.kill(_pids(config)[kill], signal.SIGKILL)
            return await asyncio.gather(*asks, return_exceptions=True)
        finally:
            c.close()

    for start in range(0, n, in_flight):
        kill = rng.choice(STAGES) if start and start % kill_every == 0 else None
        if kill:
            kills.append(kill)
        for o in asyncio.run(batch(start, kill)):
            if isinstance(o, dict) and o.get("answer"):
                answered += 1
            elif kill and isinstance(o, StageError) and o.message:
                at_kill_errors += 1  # in flight at the kill, ended in a clear error: allowed
            else:
                errors.append(repr(o)[:200])
        if kill:  # the next batch starts once the stage is back
            asyncio.run(_wait_ready(config))
    seconds = time.monotonic() - t0
    pids_end, rss_end = _pids(config), _rss(config)
    growth = {k: round(100 * (rss_end[k] - rss_start[k]) / rss_start[k], 1)
              for k in rss_end if rss_start.get(k) and rss_end.get(k) and pids_start.get(k) == pids_end.get(k)}
    return {"requests": n, "answered": answered, "errors": len(errors), "error_samples": errors[:3],
            "clear_errors_in_flight_at_a_kill": at_kill_errors, "kills": kills,
            "effects_recorded_twice": _effects_twice(config), "seconds": round(seconds, 1),
            "rss_mb_start": rss_start, "rss_mb_end": rss_end,
            "rss_growth_pct_never_killed": growth,
            "max_rss_growth_pct_never_killed": max(growth.values()) if growth else None}


def run() -> dict[str, Any]:
    with pipeline(REFERENCE) as config:
        reference = _soak(config, 1000, 100, 4, seed=1, label="soak")
    with pipeline(REAL) as config:
        real = _soak(config, 52, 24, 4, seed=2, label="real")
    return {"fuzz": fuzz_run(), "reference_planner": reference, "real_planner": real}


def main() -> None:
    print(json.dumps(run(), indent=1))


if __name__ == "__main__":
    main()
