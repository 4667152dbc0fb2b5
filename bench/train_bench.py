"""Training step time, float32 against bf16 autocast, in one run on this machine.

The same generated samples, the same seed and batches for both: seconds per optimizer step
(the first step, which warms the kernels, left out) and the loss of each step, so that the
two runs can be seen to learn alike. `python -m bench.train_bench [STEPS] [BASE]`."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from pippin.datagen import generate, write_jsonl
from pippin.train import TrainSettings, bf16_supported, train


def run(steps: int = 6, base: str = "qwen-0.5b") -> dict[str, Any]:
    out: dict[str, Any] = {"base": base, "steps": steps, "cpu_computes_bf16": bf16_supported("cpu")}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.jsonl"
        write_jsonl(generate(steps * 8, seed=7), data)
        for mode in ("off", "on"):
            times: list[float] = []
            losses: list[float] = []

            def log(line: str, times: list[float] = times, losses: list[float] = losses) -> None:
                if line.startswith("step "):  # "step 3/6 loss 1.2345 (40s training)"
                    losses.append(float(line.split()[3]))
                    times.append(float(line.split("(")[1].split("s")[0]))

            settings = TrainSettings(base=base, data=str(data), out=f"{tmp}/{mode}", max_steps=steps, batch_size=8,
                                     lr=3e-4, layers_from=12, prompt_style="grounded", bf16=mode, log_every=1,
                                     checkpoint_every=0, device="cpu")
            train(settings, log=log)
            per_step = (times[-1] - times[0]) / max(1, len(times) - 1)
            out["bf16" if mode == "on" else "float32"] = {"seconds_per_step": round(per_step, 2),
                                                          "losses": [round(x, 4) for x in losses]}
    out["speedup"] = round(out["float32"]["seconds_per_step"] / out["bf16"]["seconds_per_step"], 2)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(run(int(args[0]) if args else 6, args[1] if len(args) > 1 else "qwen-0.5b"), indent=1))
