"""`make bench`: every benchmark, written to bench/results.json and bench/results.md."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import (
    adapter_merge_bench,
    bus_bench,
    e2e_bench,
    llama_build_bench,
    pipeline_bench,
    planner_bench,
    retrieval_bench,
    scheduler_bench,
    soak_bench,
    voice_bench,
)

OUT = Path(__file__).parent


def machine() -> str:
    """The machine in words, with its widest vector instructions: the same CPU name comes
    with AVX2 only or with AVX-512, and llama.cpp's figures differ between them."""
    cpu, flags = "?", set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        info = f.read().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
        flags = set(next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), []))
    widest = next((name for flag, name in (("amx_bf16", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2"))
                   if flag in flags), "")
    cpu += f", {widest}" if widest else ""
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
            f"Python {platform.python_version()}")


def main() -> None:
    only = set(sys.argv[1:])
    benches = {"scheduler": scheduler_bench.run, "bus": bus_bench.run, "pipeline": pipeline_bench.run,
               "retrieval": retrieval_bench.run, "planner": planner_bench.run,
               "jump_forward": planner_bench.jump_forward,
               "minute_warming": planner_bench.minute_warming, "e2e": e2e_bench.run,
               "voice": voice_bench.run, "voice_asr": voice_bench.asr_variants,
               "voice_no_pause": voice_bench.no_pause, "voice_pipeline_early": voice_bench.pipeline_early,
               "voice_asr_prompts": voice_bench.asr_prompts,
               "soak": soak_bench.run,
               "llama_build": llama_build_bench.run, "adapter_merge": adapter_merge_bench.run}
    now = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M")}
    results: dict[str, Any] = dict(now)
    if only and (OUT / "results.json").exists():  # `python -m bench.run NAME...` refreshes just those
        results = {**json.loads((OUT / "results.json").read_text()), **now}
        results.pop("voice_base", None)  # replaced by voice_asr
    # When and where each benchmark last ran: a partial refresh leaves the others' figures older.
    measured: dict[str, str] = results.setdefault("measured", {})
    for name, fn in benches.items():
        if only and name not in only:
            continue
        print(f"bench {name}...", flush=True)
        results[name] = fn()
        measured[name] = f"{now['date']} on {now['machine']}"
        print(json.dumps(results[name], indent=1), flush=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    lines = [f"Last refreshed {results['date']} on {results['machine']}; each benchmark's own date and machine "
             "below (one without was measured before dates were kept per benchmark).", "",
             "| benchmark | figure | value |", "|---|---|---|"]
    for name, figures in results.items():
        if isinstance(figures, dict) and name != "measured":
            lines.append(f"| {name} | measured | {measured.get(name, 'before per-benchmark dates')} |")
            for k, v in figures.items():
                lines.append(f"| {name} | {k} | {json.dumps(v) if isinstance(v, dict) else v} |")
    (OUT / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
