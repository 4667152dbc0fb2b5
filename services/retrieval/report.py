"""Retrieval figures over a case file: tool recall (reference tools found), tools per
request, fallbacks and latency, with one model load for the whole file."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from services.retrieval.retriever import Retriever
from shared.plan import parse_plan


def retrieval_report(retriever: Retriever, cases_path: Path) -> dict[str, Any]:
    cases = [json.loads(line) for line in cases_path.read_text().splitlines() if line.strip()]
    found = needed = offered = fallbacks = 0
    missed: list[str] = []
    latencies = []
    retriever.retrieve("warm up")
    for case in cases:
        t0 = time.perf_counter()
        got = retriever.retrieve(case["query"])
        latencies.append(time.perf_counter() - t0)
        want = {c.tool for c in parse_plan(case["plan"]) if not c.is_join}
        found += len(want & set(got.tools))
        needed += len(want)
        offered += len(got.tools)
        fallbacks += got.fallback
        missed += [f"{case.get('id', '?')}: {t}" for t in sorted(want - set(got.tools))]
    latencies.sort()
    n = max(1, len(cases))
    return {
        "cases": len(cases),
        "tool_recall": round(found / max(1, needed), 4),
        "tools_per_request": round(offered / n, 2),
        "fallbacks": fallbacks,
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "latency_ms_p90": round(latencies[int(0.9 * (len(latencies) - 1))] * 1000, 2) if latencies else None,
        "missed": missed,
    }
