"""The pipeline's overhead: the same requests through the running processes (ZeroMQ,
supervisord) and in one process, with the same planner (reference, instant) and the
same simulated Mac, as a ratio from one run."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pippin.client import PipelineClient, down, up
from pippin.demo_requests import DEMO
from pippin.local import run_request
from services.executor.ledger import Executor, Ledger
from services.executor.simmac import SimulatedMac
from services.planner.reference import ReferencePlanner
from shared import config as config_mod
from shared import paths

NOW = "2026-11-23 09:30:00"


def run(rounds: int = 10) -> dict[str, Any]:
    queries = [q for q, _ in DEMO]
    plans = dict(DEMO)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cases = tmp / "cases.jsonl"
        cases.write_text("".join(json.dumps({"id": str(i), "query": q, "plan": p}) + "\n"
                                 for i, (q, p) in enumerate(DEMO)))
        cfg = tmp / "pippin.toml"
        cfg.write_text(f'[planner]\nkind = "reference"\ncases = "{cases}"\n[executor]\nbackend = "simulated"\n'
                       'db = "{run}/simmac.sqlite"\nledger = "{run}/ledger.sqlite"\n')
        os.environ["PIPPIN_CONFIG"], os.environ["PIPPIN_RUN"] = str(cfg), str(tmp / "run")
        config = config_mod.load(cfg, tmp / "run")
        up(config, timeout_s=120)
        try:
            async def remote() -> list[float]:
                c = PipelineClient(config)
                times = []
                try:
                    await c.ask(queries[0])  # warm-up
                    for r in range(rounds):
                        for q in queries:
                            t0 = time.perf_counter()
                            await c.ask(q, request_id=f"b{r}-{hash(q)}")
                            times.append(time.perf_counter() - t0)
                finally:
                    c.close()
                return times

            piped = asyncio.run(remote())
        finally:
            down(config)
            os.environ.pop("PIPPIN_CONFIG")
            os.environ.pop("PIPPIN_RUN")

    planner = ReferencePlanner(plans)
    executor = Executor(SimulatedMac(":memory:", paths.default_world()), Ledger())
    local = []
    for r in range(rounds + 1):
        for q in queries:
            t0 = time.perf_counter()
            asyncio.run(run_request(planner, executor, q, NOW, request_id=f"l{r}-{hash(q)}"))
            if r:
                local.append(time.perf_counter() - t0)
    p, loc = statistics.median(piped), statistics.median(local)
    return {"pipeline_request_ms_median": round(p * 1e3, 2), "in_process_request_ms_median": round(loc * 1e3, 2),
            "pipeline_overhead_ms": round((p - loc) * 1e3, 2), "ratio": round(p / loc, 2)}


if __name__ == "__main__":
    print(run())
