"""Planner latency, each variant against a baseline in the same run:
- prefix reuse on and off (llama.cpp's KV cache kept across requests);
- our greedy decoder (the grammar checked lazily) against llama-cpp-python's own loop;
- prompt-lookup drafts on and off;
- the shipped adapter (its short prompt) against the base model (its full prompt, cached).
Every variant but `base` runs with the adapter shipped for the model, when there is one.
Figures: prompt tokens evaluated, tokens generated, time to first token, to first call,
to the full plan, tokens per second."""

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
           "add oat milk to my Groceries note",
           "remind me on Friday to pay the electricity bill",
           "set up a zoom meeting with Priya on Wednesday at 3pm"]
NOW = "2026-11-23 09:30:00"


def measure(planner: LlmPlanner, queries: list[str]) -> tuple[dict[str, float], list[str]]:
    rows, plans = [], []
    for q in queries:
        parser = StreamingPlanParser()
        t0 = time.perf_counter()
        first_call = None
        text = ""
        for chunk in planner.stream(PlanRequest(q, NOW)):
            text += chunk
            for item in parser.feed(chunk):
                if isinstance(item, Call) and first_call is None:
                    first_call = time.perf_counter() - t0
        total = time.perf_counter() - t0
        s = planner.last
        rows.append({"prompt_tokens": s.prompt_tokens, "evaluated": s.prompt_tokens_evaluated,
                     "generated": s.generated_tokens, "first_token_s": s.seconds_to_first_token,
                     "first_call_s": first_call or total, "plan_s": total,
                     "tokens_per_s": s.generated_tokens / s.seconds_total if s.seconds_total else 0.0,
                     "drafted": s.draft_tokens, "accepted": s.draft_accepted})
        plans.append(text)
    summary = {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0] if k not in ("drafted", "accepted")}
    drafted = sum(r["drafted"] for r in rows)
    if drafted:
        summary["draft_acceptance"] = round(sum(r["accepted"] for r in rows) / drafted, 3)
    return summary, plans


def run(model: str = "qwen-0.5b") -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "requests": len(QUERIES)}
    plans: dict[str, list[str]] = {}
    variants = {"reuse_on": {}, "reuse_off": {"prefix_reuse": False}, "llama_decoder": {"decoder": "llama"},
                "drafts_6": {"draft_tokens": 6}, "base": {"lora_path": ""}}
    for name, kw in variants.items():
        planner = LlmPlanner(PlannerSettings(model=model, **kw))  # type: ignore[arg-type]
        out[name], plans[name] = measure(planner, QUERIES if name != "reuse_off" else QUERIES[:3])
        del planner
    ours, base = out["reuse_on"], out["reuse_off"]
    out["reuse_first_call_speedup"] = round(base["first_call_s"] / ours["first_call_s"], 2)
    out["reuse_plan_speedup"] = round(base["plan_s"] / ours["plan_s"], 2)
    llama = out["llama_decoder"]
    out["decoder_first_call_speedup"] = round(llama["first_call_s"] / ours["first_call_s"], 2)
    out["decoder_tokens_per_s_ratio"] = round(ours["tokens_per_s"] / llama["tokens_per_s"], 2)
    same = sum(a == b for a, b in zip(plans["reuse_on"], plans["llama_decoder"], strict=True))
    out["decoder_same_plans"] = f"{same}/{len(QUERIES)}"
    drafts = out["drafts_6"]
    out["drafts_first_call_speedup"] = round(ours["first_call_s"] / drafts["first_call_s"], 2)
    out["drafts_plan_speedup"] = round(ours["plan_s"] / drafts["plan_s"], 2)
    if plans["base"] != plans["reuse_on"]:
        base_model = out["base"]
        out["adapter_first_call_speedup"] = round(base_model["first_call_s"] / ours["first_call_s"], 2)
        out["adapter_plan_speedup"] = round(base_model["plan_s"] / ours["plan_s"], 2)
        out["adapter_tokens_per_s_ratio"] = round(ours["tokens_per_s"] / base_model["tokens_per_s"], 2)
    return out


if __name__ == "__main__":
    print(run(*sys.argv[1:]))
