"""The llama.cpp builds `make setup` can install, in one run: each build's wheel is unpacked
into its own folder and measured in its own process, on the same model and adapter.

- native (`make setup`'s default since 2026-12-07): -march=native, llamafile's sgemm for the
  weights, patched to leave the attention's F16 products to ggml (scripts/patch_llama.py),
  so that a token gets the same logits in a batch as alone (`batch_invariant`) and
  jump-forward writes the plans step-by-step decoding writes;
- native-nollamafile (`PIPPIN_LLAMA_BUILD=native-nollamafile`, the default 2026-12-05..07):
  the same without sgemm, also batch-invariant;
- native-llamafile (`PIPPIN_LLAMA_BUILD=native-llamafile`, the default until 2026-12-05):
  stock llamafile with repacked weights and the tiled matmul (other logits in a batch);
- portable (`PIPPIN_LLAMA_BUILD=portable`, x86-64-v3, AVX2 only, without sgemm), where it was built.

Figures per build: prompt tokens/s (one batch of 512), decode tokens/s (one token a step),
and the median full plan and first call on the first dev requests, as the planner runs them
(jump-forward on). Ratios: native over the others."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLAN_REQUESTS = 30


def builds() -> dict[str, tuple[Path, bool]]:
    """Each build's wheel folder and whether it is to run batch-invariant: the ones of the
    CPU key this venv was set up with."""
    cache = Path(os.environ.get("PIPPIN_CACHE", Path.home() / ".cache" / "pippin")) / "wheels"
    installed = (ROOT / ".venv" / ".llama-build").read_text().strip().rsplit("-", 1)[0]
    native = re.match(r"x86_64-native(-invariant|-nollamafile)?(?P<cpu>-.*)$", installed)
    cpu = native["cpu"] if native else "-(set up with another build)"  # e.g. the portable one
    return {"native": (cache / f"llama-x86_64-native-invariant{cpu}", True),
            "native-nollamafile": (cache / f"llama-x86_64-native-nollamafile{cpu}", True),
            "native-llamafile": (cache / f"llama-x86_64-native{cpu}", False),
            "portable": (cache / "llama-x86_64-portable-nollamafile", True)}


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (folder, invariant) in builds().items():
            wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
            if not wheels:
                out[name] = {"skipped": f"no build in {folder}: PIPPIN_LLAMA_BUILD={name} bash scripts/setup.sh "
                                        "compiles it"}
                continue
            target = Path(tmp) / name
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                            str(wheels[0])], check=True)
            env = {**os.environ, "PYTHONPATH": f"{target}{os.pathsep}{ROOT}"}
            done = subprocess.run([sys.executable, "-m", "bench.llama_build_bench", "--measure", str(int(invariant))],
                                  env=env, cwd=ROOT, capture_output=True, text=True, check=True)
            out[name] = json.loads(done.stdout.strip().splitlines()[-1])
    native = out.get("native", {})
    for other in ("native-nollamafile", "native-llamafile", "portable"):
        theirs = out.get(other, {})
        if "skipped" in native or "skipped" in theirs or not native or not theirs:
            continue
        for k in ("prompt_tokens_per_s", "decode_tokens_per_s"):
            out[f"{k}_native_over_{other}"] = round(native[k] / theirs[k], 2)
        for k in ("plan_s", "first_call_s"):
            out[f"{k}_speedup_native_over_{other}"] = round(theirs[k] / native[k], 2)
    return out


def token_speeds(llm: Any) -> tuple[float, float]:
    """A loaded llama's prompt tokens/s (one batch of 512) and decode tokens/s (64 tokens, one
    a step), each the median of 3 runs."""
    words = " ".join(f"word{i}" for i in range(400))
    prompt = llm.tokenize(words.encode(), add_bos=False)[:512]
    prompt_s, decode_s = [], []
    for _ in range(3):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        prompt_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for token in prompt[:64]:
            llm.eval([token])
        decode_s.append(time.perf_counter() - t0)
    return round(len(prompt) / statistics.median(prompt_s), 1), round(64 / statistics.median(decode_s), 1)


def measure(batch_invariant: bool) -> dict[str, Any]:
    """In the process of one build (its llama_cpp first on the path)."""
    import llama_cpp

    from bench.planner_bench import _timed
    from pippin.evaluation import world_at
    from services.planner.base import PlanRequest
    from services.planner.llm import LlmPlanner, PlannerSettings
    from shared import paths
    from shared.cases import load_cases

    planner = LlmPlanner(PlannerSettings(batch_invariant=batch_invariant))
    prompt_tps, decode_tps = token_speeds(planner._llm)
    planner._llm.reset()
    planner.warm_prefix()
    plans, firsts = [], []
    for case in load_cases(paths.dev_cases())[:PLAN_REQUESTS]:
        now = world_at(paths.default_world(), case.now).get("now", "")
        timed, _ = _timed(planner, PlanRequest(case.query, now))
        plans.append(timed["plan_s"])
        firsts.append(timed["first_call_s"])
    return {"llama_cpp": str(Path(llama_cpp.__file__).parent), "batch_invariant": planner.batch_invariant,
            "prompt_tokens_per_s": prompt_tps, "decode_tokens_per_s": decode_tps,
            "plan_s": round(statistics.median(plans), 3), "first_call_s": round(statistics.median(firsts), 3)}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2:] == ["1"])))
    else:
        print(json.dumps(run(), indent=1))
