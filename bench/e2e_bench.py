"""End to end with the real planner (qwen-0.5b, retrieval on): text in -> first call
dispatched and -> answer, through the running pipeline; memory (RSS) of every stage; the
cost of tracing; and the same requests with the same models run sequentially in one
process (retrieve, then the whole plan, then each call in turn), as a ratio."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pipeline_bench import tracing_cost_us
from pippin.client import PipelineClient, down, supervisorctl, up
from pippin.demo_requests import DEMO
from services.executor.ledger import Executor, Ledger
from services.executor.simmac import SimulatedMac
from services.planner.base import PlanRequest
from services.scheduler.engine import Scheduler
from shared import config as config_mod
from shared import paths
from shared.plan import parse_plan
from shared.runtime.tracing import read_spans

NOW = "2026-11-23 09:30:00"
STAGES = tuple(p for p in config_mod.PROCESSES if p != config_mod.LISTENER)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run(rounds: int = 2) -> dict[str, Any]:
    queries = [q for q, _ in DEMO]
    firsts, totals = [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cfg = tmp / "pippin.toml"
        cfg.write_text('[planner]\nkind = "llm"\nmodel = "qwen-0.5b"\n[executor]\nbackend = "simulated"\n'
                       'db = "{run}/simmac.sqlite"\nledger = "{run}/ledger.sqlite"\n[retrieval]\nenabled = true\n')
        os.environ["PIPPIN_CONFIG"], os.environ["PIPPIN_RUN"] = str(cfg), str(tmp / "run")
        config = config_mod.load(cfg, tmp / "run")
        up(config, timeout_s=300)
        try:
            async def remote() -> None:
                c = PipelineClient(config)
                try:
                    await c.ask(queries[0], now=NOW)  # warm-up
                    for r in range(rounds):
                        for q in queries:
                            t0 = time.perf_counter()
                            first: list[float] = []

                            def progress(p: dict[str, Any], first: list[float] = first) -> None:
                                if p["kind"] in ("start", "done", "failed") and not first:
                                    first.append(time.perf_counter())

                            await c.ask(q, request_id=f"e{r}-{abs(hash(q))}", now=NOW, on_progress=progress)
                            totals.append(time.perf_counter() - t0)
                            if first:
                                firsts.append(first[0] - t0)
                finally:
                    c.close()

            asyncio.run(remote())
            rss = {}
            for stage in STAGES:
                pid = supervisorctl(config, "pid", stage).stdout.strip()
                if pid.isdigit() and pid != "0":
                    rss[stage] = _rss_mb(int(pid))
            spans = read_spans(config.run_dir / "trace")
        finally:
            down(config)
            os.environ.pop("PIPPIN_CONFIG")
            os.environ.pop("PIPPIN_RUN")

    asks = [s for s in spans if s.stage == "gateway" and s.name == "work" and s.detail == "ask"]
    per_request = len(spans) / max(1, len(asks))
    cost = tracing_cost_us()
    e2e_ms = statistics.median(totals) * 1e3
    sequential = _sequential(queries, rounds)
    return {
        "requests": len(totals),
        "text_to_first_call_ms_median": round(statistics.median(firsts) * 1e3, 1) if firsts else None,
        "text_to_answer_ms_median": round(e2e_ms, 1),
        "sequential_one_process_ms_median": round(sequential * 1e3, 1),
        "pipelined_vs_sequential_speedup": round(sequential * 1e3 / e2e_ms, 2),
        "rss_mb": rss,
        "spans_per_request": round(per_request, 1),
        "tracing_us_per_span": cost,
        "tracing_share_of_e2e": f"{per_request * cost['ring_and_file'] / 1e3 / e2e_ms:.3%}",
    }


async def _one_by_one(executor: Executor, rid: str, calls: list[Any]) -> None:
    # A blocking execute: each call runs to its end before the next one starts.
    async def execute(rid: str, idx: int, tool: str, args: tuple[Any, ...], deliver: bool) -> Any:
        return executor.execute(rid, idx, tool, args, deliver=deliver)

    await Scheduler(execute).run(rid, calls)


def _sequential(queries: list[str], rounds: int) -> float:
    """The same stages one after another in one process: no streaming, no overlap."""
    from services.planner.llm import LlmPlanner, PlannerSettings
    from services.retrieval.retriever import Retriever

    retriever = Retriever.load()
    planner = LlmPlanner(PlannerSettings(model="qwen-0.5b"))
    executor = Executor(SimulatedMac(":memory:", paths.default_world()), Ledger())
    times = []
    for r in range(rounds + 1):
        for q in queries:
            t0 = time.perf_counter()
            got = retriever.retrieve(q)
            text = "".join(planner.stream(PlanRequest(q, NOW, () if got.fallback else got.tools, got.examples)))
            calls = parse_plan(text)

            asyncio.run(_one_by_one(executor, f"s{r}-{abs(hash(q))}", calls))
            if r:
                times.append(time.perf_counter() - t0)
    return statistics.median(times)
