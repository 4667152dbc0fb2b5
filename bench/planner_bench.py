"""Planner latency, each variant against a baseline in the same run:
- prefix reuse on and off (llama.cpp's KV cache kept across requests);
- our greedy decoder (the grammar checked lazily) against llama-cpp-python's own loop;
- prompt-lookup drafts on and off;
- the shipped adapter (its short prompt) against the base model (its full prompt, cached);
- the adapter merged into the weights (the default) against it applied at run time;
- jump-forward (the grammar's forced tokens in one batch, llguidance) against llama.cpp's
  grammar sampler, one step a token (`jump_forward`: every dev and fresh request, the plans
  compared text for text, where each plan's time goes);
- `minute_warming`: a typed request in a minute whose date table is not yet evaluated (a
  real Mac after a quiet minute) against one the planner stage warmed as the minute turned.
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
        timed, text = _timed(planner, PlanRequest(q, NOW))
        s = planner.last
        rows.append({"prompt_tokens": s.prompt_tokens, "evaluated": s.prompt_tokens_evaluated,
                     "generated": s.generated_tokens, "first_token_s": s.seconds_to_first_token,
                     "first_call_s": timed["first_call_s"], "plan_s": timed["plan_s"],
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
                "no_jump_forward": {"jump_forward": False}, "drafts_6": {"draft_tokens": 6, "jump_forward": False},
                "base": {"lora_path": ""}, "adapter_at_run_time": {"merge_adapter": False}}
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
    stepwise = out["no_jump_forward"]
    out["jump_forward_first_call_speedup"] = round(stepwise["first_call_s"] / ours["first_call_s"], 2)
    out["jump_forward_plan_speedup"] = round(stepwise["plan_s"] / ours["plan_s"], 2)
    same = sum(a == b for a, b in zip(plans["reuse_on"], plans["no_jump_forward"], strict=True))
    out["jump_forward_same_plans"] = f"{same}/{len(QUERIES)}"
    drafts = out["drafts_6"]
    out["drafts_first_call_speedup"] = round(stepwise["first_call_s"] / drafts["first_call_s"], 2)
    out["drafts_plan_speedup"] = round(stepwise["plan_s"] / drafts["plan_s"], 2)
    run_time = out["adapter_at_run_time"]
    out["merged_adapter_first_call_speedup"] = round(run_time["first_call_s"] / ours["first_call_s"], 2)
    out["merged_adapter_plan_speedup"] = round(run_time["plan_s"] / ours["plan_s"], 2)
    same = sum(a == b for a, b in zip(plans["reuse_on"], plans["adapter_at_run_time"], strict=True))
    out["merged_adapter_same_plans"] = f"{same}/{len(QUERIES)}"
    if plans["base"] != plans["reuse_on"]:
        base_model = out["base"]
        out["adapter_first_call_speedup"] = round(base_model["first_call_s"] / ours["first_call_s"], 2)
        out["adapter_plan_speedup"] = round(base_model["plan_s"] / ours["plan_s"], 2)
        out["adapter_tokens_per_s_ratio"] = round(ours["tokens_per_s"] / base_model["tokens_per_s"], 2)
    return out


def jump_forward(sets: tuple[str, ...] = ("dev", "fresh"), model: str = "qwen-0.5b") -> dict[str, Any]:
    """Every request of the eval sets planned with jump-forward and without (llama.cpp's
    grammar sampler, one decode step a token), alternating in one process, as the pipeline
    plans (retrieval on): the plans compared text for text; median and p90 time to the first
    call and to the full plan, over both sets and each alone; where a plan's time goes; p90
    on the longest tenth."""
    from pippin.evaluation import world_at
    from services.retrieval.retriever import Retriever
    from shared import paths
    from shared.cases import load_cases

    retriever = Retriever.load()
    planners = {"jump": LlmPlanner(PlannerSettings(model=model)),
                "stepwise": LlmPlanner(PlannerSettings(model=model, jump_forward=False))}
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in planners}
    per_set: dict[str, dict[str, list[dict[str, Any]]]] = {name: {k: [] for k in planners} for name in sets}
    different: list[str] = []
    n = 0
    for name in sets:
        for case in load_cases({"dev": paths.dev_cases(), "fresh": paths.fresh_cases()}[name]):
            tools, examples = retriever.tools_and_examples(case.query)
            now = world_at(paths.default_world(), case.now).get("now", "")
            request = PlanRequest(case.query, now, tools, examples)
            texts = {}
            for key, planner in planners.items():
                row, texts[key] = _timed(planner, request)
                rows[key].append(row)
                per_set[name][key].append(row)
            n += 1
            if texts["jump"] != texts["stepwise"]:
                different.append(f"{name}:{case.id}")
    out: dict[str, Any] = {"requests": n, "same_plans": f"{n - len(different)}/{n}", "different": different[:20]}
    for key, rs in rows.items():
        out[key] = _summary(rs)
        longest = sorted(rs, key=lambda r: r["generated"])[-max(1, len(rs) // 10):]
        out[key]["longest_tenth_plan_s_p90"] = round(_p90([r["plan_s"] for r in longest]), 3)
    out["plan_speedup_median"] = round(out["stepwise"]["plan_s"] / out["jump"]["plan_s"], 2)
    out["first_call_speedup_median"] = round(out["stepwise"]["first_call_s"] / out["jump"]["first_call_s"], 2)
    out["plan_speedup_p90"] = round(out["stepwise"]["plan_s_p90"] / out["jump"]["plan_s_p90"], 2)
    for name, by_key in per_set.items():  # each set alone (the issue's bar is on dev)
        out[name] = {key: {m: round(statistics.median(r[m] for r in rs), 3) for m in ("plan_s", "first_call_s")}
                     | {"plan_s_p90": round(_p90([r["plan_s"] for r in rs]), 3)} for key, rs in by_key.items()}
    return out


def minute_warming(model: str = "qwen-0.5b") -> dict[str, Any]:
    """Each request twice at the same minute, in turn: cold (the cache last held another
    minute's prompt) and warmed (then `prefill` of the request's minute with no words, as the
    planner stage does while idle when the minute turns). The plans must be the same."""
    planner = LlmPlanner(PlannerSettings(model=model))
    rows: dict[str, list[dict[str, Any]]] = {"cold": [], "warmed": []}
    same = 0
    for i, q in enumerate(QUERIES * 2):
        now, other = f"2026-11-23 10:{i:02d}:00", f"2026-11-23 11:{i:02d}:00"
        plans = {}
        for kind in ("cold", "warmed"):
            planner.prefill(PlanRequest("", other, layout="grammar"))  # the cache on another minute
            if kind == "warmed":
                planner.prefill(PlanRequest("", now, layout="grammar"))
            timed, plans[kind] = _timed(planner, PlanRequest(q, now))
            rows[kind].append(timed)
        same += plans["cold"] == plans["warmed"]
    out: dict[str, Any] = {k: {m: round(statistics.median(r[m] for r in v), 3)
                               for m in ("evaluated", "prompt_s", "first_call_s", "plan_s")} for k, v in rows.items()}
    out["same_plans"] = f"{same} of {len(QUERIES) * 2}"
    out["first_call_speedup"] = round(out["cold"]["first_call_s"] / out["warmed"]["first_call_s"], 2)
    out["plan_speedup"] = round(out["cold"]["plan_s"] / out["warmed"]["plan_s"], 2)
    return out


def _timed(planner: LlmPlanner, request: PlanRequest) -> tuple[dict[str, Any], str]:
    parser = StreamingPlanParser()
    t0 = time.perf_counter()
    first_call = None
    text = ""
    for chunk in planner.stream(request):
        text += chunk
        for item in parser.feed(chunk):
            if isinstance(item, Call) and first_call is None:
                first_call = time.perf_counter() - t0
    total = time.perf_counter() - t0
    s = planner.last
    return {"plan_s": total, "first_call_s": first_call or total, "generated": s.generated_tokens,
            "forced": s.forced_tokens, "refused": s.forced_refused, "evaluated": s.prompt_tokens_evaluated,
            "grounding_s": s.grounding_s,
            "prompt_s": s.prompt_s, "decode_s": s.decode_s, "grammar_s": s.grammar_s}, text


def _p90(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, int(0.9 * len(xs)))]


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}
    out["plan_s_p90"] = round(_p90([r["plan_s"] for r in rows]), 3)
    out["first_call_s_p90"] = round(_p90([r["first_call_s"] for r in rows]), 3)
    out["forced_share"] = round(sum(r["forced"] for r in rows) / max(1, sum(r["generated"] for r in rows)), 3)
    out["forced_refused"] = sum(r["refused"] for r in rows)
    return out


if __name__ == "__main__":
    print(run(*sys.argv[1:]))
