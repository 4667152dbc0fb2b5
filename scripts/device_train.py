"""Train the planner's adapter on a lent GPU machine, which has torch, transformers and peft
but no network and none of Pippin's other libraries (docs/gpu-training.md says how the base
GGUF, the samples and the gguf wheel get there).

    python3 scripts/device_train.py --base /tmp/base.gguf --data .gpu/train.jsonl.gz --out /tmp/run \\
        --max-steps 2500 --snapshots 1000,2000,4000,8000,16000 --bring-back "$OUT"

The samples carry their prompts (`pippin gen-data --with-prompts grounded`), so grounding's
libraries are not needed there. The adapter, its train.json and each snapshot's adapter are
copied to --bring-back, flat (the device tool brings back at most 8 files, 2 folders down)."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

from pippin.train import TrainSettings, train

QWEN_05B_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help="the base GGUF, assembled from its parts")
    p.add_argument("--base-sha256", default=QWEN_05B_SHA256, help="'' to skip the check (a smoke run)")
    p.add_argument("--data", required=True)
    p.add_argument("--out", default="/tmp/run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--layers-from", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--snapshots", default="", help="samples seen at which to export an adapter too")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps; a command cut off by the tool's "
                   "10-minute limit goes on with --resume in the next call, while the machine is warm")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--bring-back", default="", help="a folder (the device's $OUT) for the adapters")
    args = p.parse_args()
    base = Path(args.base)
    if args.base_sha256:
        got = hashlib.sha256(base.read_bytes()).hexdigest()
        if got != args.base_sha256:
            print(f"{base}: SHA-256 {got}, not the base's {args.base_sha256}: a part is missing or twice",
                  file=sys.stderr)
            return 2
    settings = TrainSettings(base=str(base), data=args.data, out=args.out, seed=args.seed, epochs=args.epochs,
                             max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr, rank=args.rank,
                             alpha=args.alpha, prompt_style="grounded", layers_from=args.layers_from,
                             device=args.device, bf16="auto", checkpoint_every=args.checkpoint_every,
                             resume=args.resume, retrieval=False,
                             snapshots=tuple(int(n) for n in args.snapshots.split(",") if n.strip()))
    summary = train(settings)
    print(json.dumps(summary, indent=1))
    if args.bring_back:
        back, out = Path(args.bring_back), Path(args.out)
        back.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "adapter.gguf", back / "adapter.gguf")
        shutil.copy(out / "train.json", back / "train.json")
        for snapshot in sorted((out / "curve").glob("*/adapter.gguf")):
            shutil.copy(snapshot, back / f"curve-{snapshot.parent.name}.gguf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
