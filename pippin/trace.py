"""`pippin trace` and `pippin profile`: where a request's time went, stage by stage.

The trace is written in Chrome's trace-event format (Perfetto, chrome://tracing): one
process track per stage, one thread row per request inside it (a stage serves requests
side by side), a slice per span and a flow arrow for each message from its sender's
send to the receiver's decode."""

from __future__ import annotations

import json
import subprocess
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from shared.runtime.tracing import Span

STAGE_ORDER = ("client", "gateway", "retrieval", "scheduler", "planner", "executor", "listener")


def request_of(span: Span) -> str:
    """The user's request a span belongs to (replan rounds and decide steps included)."""
    return span.request_id.split("~", 1)[0]


def last_requests(spans: list[Span], n: int) -> list[str]:
    """The n latest requests that came in through the gateway, oldest first."""
    asks = sorted((s for s in spans if s.stage == "gateway" and s.name == "work" and s.detail == "ask"),
                  key=lambda s: s.start)
    out: list[str] = []
    for s in reversed(asks):
        if s.request_id not in out:
            out.append(s.request_id)
        if len(out) == n:
            break
    return list(reversed(out))


def select(spans: list[Span], request_ids: list[str]) -> list[Span]:
    wanted = set(request_ids)
    return sorted((s for s in spans if request_of(s) in wanted), key=lambda s: s.start)


def chrome_trace(spans: list[Span]) -> dict[str, Any]:
    if not spans:
        return {"traceEvents": [], "displayTimeUnit": "ms"}
    t0 = min(s.start for s in spans)
    us = 1e6
    pids = {s.stage: s.pid for s in spans}
    events: list[dict[str, Any]] = []
    for stage, pid in pids.items():
        events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": stage}})
        rank = STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)
        events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": rank}})
    for n, s in enumerate(spans):
        tid = zlib.crc32(request_of(s).encode()) % 100000 + 1
        ts = round((s.start - t0) * us, 3)
        dur = round(s.seconds * us, 3)
        events.append({"ph": "X", "name": f"{s.name} {s.detail.split(' from ')[0]}", "cat": s.name, "pid": s.pid,
                       "tid": tid, "ts": ts, "dur": dur,
                       "args": {"request": s.request_id, "trace": s.trace_id, "detail": s.detail}})
        sender = s.detail.split(" from ", 1)[1] if s.name == "recv" and " from " in s.detail else None
        if sender in pids:  # an arrow from the sender's send to this decode
            events.append({"ph": "s", "id": n, "name": "message", "cat": "message", "pid": pids[sender], "tid": tid,
                           "ts": ts})
            events.append({"ph": "f", "bp": "e", "id": n, "name": "message", "cat": "message", "pid": s.pid,
                           "tid": tid, "ts": round(ts + dur, 3)})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))] if xs else 0.0


def stage_table(spans: list[Span]) -> tuple[list[dict[str, Any]], str]:
    """Per stage: work and queue (recv) p50/p90/max in ms, and its work as a share of the
    requests' end-to-end time (the gateway's work on each ask). Shares add up to more than
    100%: a stage's work includes waiting on the stages it called."""
    asks = [s for s in spans if s.stage == "gateway" and s.name == "work" and s.detail == "ask"]
    e2e = sum(s.seconds for s in asks)
    by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in spans:
        by[s.stage][s.name].append(s.seconds * 1000)
    rows = []
    for stage in sorted(by, key=lambda x: STAGE_ORDER.index(x) if x in STAGE_ORDER else 99):
        work, queue = by[stage]["work"], by[stage]["recv"]
        rows.append({"stage": stage, "messages": len(queue),
                     "work_ms": [round(_pct(work, 0.5), 2), round(_pct(work, 0.9), 2), round(max(work, default=0), 2)],
                     "queue_ms": [round(_pct(queue, 0.5), 3), round(_pct(queue, 0.9), 3),
                                  round(max(queue, default=0), 3)],
                     "work_share": round(sum(work) / 1000 / e2e, 3) if e2e else None})
    lines = [f"{'stage':<10} {'msgs':>5}  {'work ms p50/p90/max':>24}  {'queue ms p50/p90/max':>24}  share of e2e"]
    for r in rows:
        w, q = r["work_ms"], r["queue_ms"]
        share = f"{r['work_share']:.0%}" if r["work_share"] is not None else "-"
        lines.append(f"{r['stage']:<10} {r['messages']:>5}  {w[0]:>8.2f}/{w[1]:>7.2f}/{w[2]:>7.2f}  "
                     f"{q[0]:>8.3f}/{q[1]:>7.3f}/{q[2]:>7.3f}  {share:>6}")
    lines.append(f"end to end: {e2e * 1000:.1f} ms over {len(asks)} request(s)")
    return rows, "\n".join(lines)


def write_trace(spans: list[Span], out: Path) -> None:
    out.write_text(json.dumps(chrome_trace(spans)), encoding="utf-8")


def profile(pid: int, seconds: float, out: Path) -> subprocess.CompletedProcess[str]:
    """A py-spy flame graph of a running process, sampled without restarting it."""
    import shutil
    import sys

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.run([spy, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                           "--format", "flamegraph", "--output", str(out), "--nonblocking", "--idle"],
                          capture_output=True, text=True, timeout=seconds + 60)


def summary_line(spans: list[Span]) -> str:
    stages = sorted({s.stage for s in spans})
    return f"{len(spans)} spans from {len(stages)} stages ({', '.join(stages)})"

