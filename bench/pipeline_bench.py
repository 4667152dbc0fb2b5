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
from collections.abc import Iterator
from contextlib import contextmanager
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
from shared.config import Config
from shared.runtime.tracing import Tracer, read_spans

NOW = "2026-11-23 09:30:00"


REFERENCE = 'kind = "reference"\ncases = "{cases}"'


@contextmanager
def running_pipeline(planner: str = REFERENCE, *, retrieval: bool = False, extra: str = "") -> Iterator[Config]:
    """The stages under supervisord in a temporary run directory, on the simulated Mac; `planner`
    is the [planner] section, where {cases} names a case file of the demo's requests and plans."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cases = tmp / "cases.jsonl"
        cases.write_text("".join(json.dumps({"id": str(i), "query": q, "plan": p}) + "\n"
                                 for i, (q, p) in enumerate(DEMO)))
        cfg = tmp / "pippin.toml"
        cfg.write_text(f'[planner]\n{planner.format(cases=cases)}\n[executor]\nbackend = "simulated"\n'
                       'db = "{run}/simmac.sqlite"\nledger = "{run}/ledger.sqlite"\n'
                       f'[retrieval]\nenabled = {str(retrieval).lower()}\n{extra}')
        os.environ["PIPPIN_CONFIG"], os.environ["PIPPIN_RUN"] = str(cfg), str(tmp / "run")
        config = config_mod.load(cfg, tmp / "run")
        up(config, timeout_s=300)
        try:
            yield config
        finally:
            down(config)
            os.environ.pop("PIPPIN_CONFIG")
            os.environ.pop("PIPPIN_RUN")


def run(rounds: int = 10) -> dict[str, Any]:
    queries = [q for q, _ in DEMO]
    plans = dict(DEMO)
    # the in-process side has no retrieval either
    with running_pipeline(retrieval=False) as config:
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
        spans = read_spans(config.run_dir / "trace")

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
    asks = sum(1 for s in spans if s.stage == "gateway" and s.name == "work" and s.detail == "ask")
    per_request = len(spans) / max(1, asks)
    cost = tracing_cost_us()
    return {"pipeline_request_ms_median": round(p * 1e3, 2), "in_process_request_ms_median": round(loc * 1e3, 2),
            "pipeline_overhead_ms": round((p - loc) * 1e3, 2), "ratio": round(p / loc, 2),
            "spans_per_request": round(per_request, 1), "tracing_us_per_span": cost,
            "tracing_share_of_request": f"{per_request * cost['ring_and_file'] / 1e3 / (p * 1e3):.2%}"}


def tracing_cost_us(n: int = 20000) -> dict[str, float]:
    """What recording one span costs, kept in the ring only and also written to the file."""
    with tempfile.TemporaryDirectory() as d:
        out = {}
        for label, directory in (("ring_only", None), ("ring_and_file", Path(d))):
            tracer = Tracer("bench", directory)
            t0 = time.perf_counter()
            for i in range(n):
                tracer.record("work", "t", f"r{i % 7}", time.monotonic(), 0.001, "execute")
            out[label] = round((time.perf_counter() - t0) / n * 1e6, 2)
            tracer.close()
        return out


if __name__ == "__main__":
    print(run())
