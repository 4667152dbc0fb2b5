"""The shipped LoRA adapter applied at run time against the same adapter merged into the
base model's weights (shared.runtime.adapter_merge; the planner's default), in one process.

Figures: prompt tokens/s (one batch of 512) and decode tokens/s (one token a step), as
`llama_build_bench.token_speeds` measures them, each way twice in turn (the better kept); then
full plans and first calls of the first PLAN_REQUESTS dev requests, each planned both ways in
turn, and how many plans are the same text. Accuracy is an eval each way (`pippin eval CASES
--planner llm --retrieval`, with `--no-merge` for run time).

`python -m bench.adapter_merge_bench --write OUT.gguf [--as TYPE]` writes the merged file
(TYPE: a ggml type such as Q8_0, the default, or `own` for each tensor's own type)."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

ROUNDS = 2
PLAN_REQUESTS = 30


def _planner(merge: bool) -> Any:
    from services.planner.llm import LlmPlanner, PlannerSettings

    return LlmPlanner(PlannerSettings(merge_adapter=merge))


def run() -> dict[str, Any]:
    from bench.llama_build_bench import token_speeds
    from bench.planner_bench import _timed
    from pippin.evaluation import world_at
    from services.planner.base import PlanRequest
    from shared import paths
    from shared.cases import load_cases
    from shared.runtime import models

    if models.shipped_adapter("qwen-0.5b") is None:
        return {"skipped": "no adapter shipped for qwen-0.5b"}
    planners = {"run time": _planner(False), "merged": _planner(True)}
    if planners["merged"].model_path == planners["run time"].model_path:
        return {"skipped": "the adapter could not be merged (see the planner's log)"}
    speeds: dict[str, list[tuple[float, float]]] = {k: [] for k in planners}
    for _ in range(ROUNDS):
        for name, planner in planners.items():
            speeds[name].append(token_speeds(planner._llm))
    best = {k: (max(p for p, _ in v), max(d for _, d in v)) for k, v in speeds.items()}
    for planner in planners.values():
        planner._llm.reset()
        planner.warm_prefix()
    timed: dict[str, list[dict[str, Any]]] = {k: [] for k in planners}
    same = 0
    for case in load_cases(paths.dev_cases())[:PLAN_REQUESTS]:
        now = world_at(paths.default_world(), case.now).get("now", "")
        texts = []
        for name, planner in planners.items():
            row, text = _timed(planner, PlanRequest(case.query, now))
            timed[name].append(row)
            texts.append(text)
        same += texts[0] == texts[1]

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in timed[name])

    rt, mg = "run time", "merged"
    return {
        "merged tensors' type": "Q8_0",
        "prompt tokens/s (batch of 512): run time / merged": f"{best[rt][0]:.1f} / {best[mg][0]:.1f}",
        "decode tokens/s (one a step): run time / merged": f"{best[rt][1]:.1f} / {best[mg][1]:.1f}",
        "ratio merged over run time: prompt / decode": (f"{best[mg][0] / best[rt][0]:.2f}x / "
                                                        f"{best[mg][1] / best[rt][1]:.2f}x"),
        f"full plan median (first {PLAN_REQUESTS} dev): run time / merged":
            f"{median(rt, 'plan_s'):.3f} / {median(mg, 'plan_s'):.3f} s "
            f"({median(rt, 'plan_s') / median(mg, 'plan_s'):.2f}x)",
        "first call median: run time / merged":
            f"{median(rt, 'first_call_s'):.3f} / {median(mg, 'first_call_s'):.3f} s "
            f"({median(rt, 'first_call_s') / median(mg, 'first_call_s'):.2f}x)",
        "the same plan, text for text": f"{same} of {PLAN_REQUESTS}",
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"] and len(sys.argv) in (3, 5) and sys.argv[3:4] in ([], ["--as"]):
        from shared.runtime import adapter_merge, models

        shipped = models.shipped_adapter("qwen-0.5b")
        if shipped is None:
            raise SystemExit("no adapter shipped for qwen-0.5b")
        as_type = sys.argv[4].upper() if len(sys.argv) == 5 else adapter_merge.MERGED_TYPE
        n = adapter_merge.merge_adapter(models.resolve("qwen-0.5b"), shipped, Path(sys.argv[2]),
                                        None if as_type == "OWN" else as_type)
        print(f"wrote {sys.argv[2]}: {n} tensors merged ({'each its own type' if as_type == 'OWN' else as_type})")
    else:
        print(run())
