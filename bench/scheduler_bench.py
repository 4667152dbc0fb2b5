"""Scheduler overhead and dispatch latency, against a sequential baseline in the same run."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from services.scheduler.engine import Scheduler, SchedulerSettings
from shared.outcome import Outcome
from shared.plan import Call


def _plan(n: int, chain: bool) -> list[Call]:
    calls = []
    for i in range(1, n + 1):
        arg = f"${i - 1}" if chain and i > 1 else "x"
        calls.append(Call(i, "maps_open_location", (arg,)))
    return [*calls, Call(n + 1, "join", ())]


async def _run(n: int, chain: bool, work_s: float) -> tuple[float, list[float]]:
    async def execute(rid: str, idx: int, tool: str, args: tuple[Any, ...], deliver: bool) -> Outcome:
        if work_s:
            await asyncio.sleep(work_s)
        return Outcome(True, "ok")

    sched = Scheduler(execute, SchedulerSettings(parallel_per_app=64))
    t0 = time.perf_counter()
    result = await sched.run("bench", _plan(n, chain))
    total = time.perf_counter() - t0
    gaps = []
    by_idx = {c.idx: c for c in result.calls}
    for c in result.calls:
        if chain and c.idx > 1:
            gaps.append(c.started - by_idx[c.idx - 1].finished)
    return total, gaps


async def _sequential(n: int, work_s: float) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        if work_s:
            await asyncio.sleep(work_s)
    return time.perf_counter() - t0


def run(repeats: int = 30) -> dict[str, Any]:
    n = 8
    overhead, gaps = [], []
    for _ in range(repeats):
        total, _ = asyncio.run(_run(n, chain=False, work_s=0))
        overhead.append(total / n)
        _, g = asyncio.run(_run(n, chain=True, work_s=0))
        gaps.extend(g)
    par = statistics.median(asyncio.run(_run(n, chain=False, work_s=0.02))[0] for _ in range(5))
    seq = statistics.median(asyncio.run(_sequential(n, 0.02)) for _ in range(5))
    gaps.sort()
    return {
        "overhead_per_call_us_median": round(statistics.median(overhead) * 1e6, 1),
        "dependency_to_dispatch_us_p50": round(gaps[len(gaps) // 2] * 1e6, 1),
        "dependency_to_dispatch_us_p99": round(gaps[int(len(gaps) * 0.99)] * 1e6, 1),
        "parallel_plan_8x20ms_s": round(par, 4),
        "sequential_8x20ms_s": round(seq, 4),
        "speedup_vs_sequential": round(seq / par, 2),
    }


if __name__ == "__main__":
    print(run())
