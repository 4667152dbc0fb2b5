"""Planner latency with llama.cpp prefix reuse on and off, in one run: prompt tokens
evaluated, tokens generated, time to first token, to first call, to the full plan."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from services.planner.base import PlanRequest
from services.planner.llm import LlmPlanner, PlannerSettings
from shared.plan import Call, StreamingPlanParser

QUERIES = ["text Sid that I'm running ten minutes late",
           "email Carlos the lease agreement and remind me tomorrow to call him",
           "show me walking directions to the Ferry Building",
           "add oat milk to my Groceries note"]
NOW = "2026-11-23 09:30:00"


def measure(planner: LlmPlanner) -> list[dict[str, float]]:
    rows = []
    for q in QUERIES:
        parser = StreamingPlanParser()
        t0 = time.perf_counter()
        first_call = None
        for chunk in planner.stream(PlanRequest(q, NOW)):
            for item in parser.feed(chunk):
                if isinstance(item, Call) and first_call is None:
                    first_call = time.perf_counter() - t0
        total = time.perf_counter() - t0
        s = planner.last
        rows.append({"prompt_tokens": s.prompt_tokens, "evaluated": s.prompt_tokens_evaluated,
                     "generated": s.generated_tokens, "first_token_s": s.seconds_to_first_token,
                     "first_call_s": first_call or total, "plan_s": total})
    return rows


def run(model: str = "qwen-0.5b") -> dict[str, Any]:
    out: dict[str, Any] = {"model": model}
    for reuse in (True, False):
        planner = LlmPlanner(PlannerSettings(model=model, prefix_reuse=reuse))
        rows = measure(planner)
        out["reuse_on" if reuse else "reuse_off"] = {
            k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}
        del planner
    on, off = out["reuse_on"], out["reuse_off"]
    out["first_call_speedup"] = round(off["first_call_s"] / on["first_call_s"], 2)
    out["plan_speedup"] = round(off["plan_s"] / on["plan_s"], 2)
    return out


if __name__ == "__main__":
    print(run(*sys.argv[1:]))
