"""`pippin train` on a lent GPU machine, which has torch, transformers and peft but no network
and none of Pippin's other libraries (docs/gpu-training.md says how the base GGUF, the samples
and the gguf wheel get there). What it adds to `pippin train`: the assembled base is checked
first, and the adapters are copied where the device tool brings files back from.

    python3 scripts/device_train.py --bring-back "$OUT" -- --base /tmp/base.gguf \\
        --data .gpu/train.jsonl.gz --out /tmp/run --prompt grounded --no-retrieval --epochs 1 \\
        --checkpoint-every 250 --snapshots 1000,2000,4000,8000,16000

Everything after `--` is `pippin train`'s. The samples carry their prompts (`pippin gen-data
--with-prompts grounded`), so grounding's libraries are not needed there. The adapter, its
train.json and each snapshot's adapter are copied to --bring-back, flat (the device tool brings
back at most 8 files, 2 folders down)."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, no install

from pippin import cli

QWEN_05B_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bring-back", required=True, help="a folder (the device's $OUT) for the adapters")
    p.add_argument("--base-sha256", default=QWEN_05B_SHA256, help="'' to skip the check (a smoke run)")
    p.add_argument("train", nargs=argparse.REMAINDER, help="-- then `pippin train`'s arguments")
    args = p.parse_args()
    train_args = args.train[1:] if args.train[:1] == ["--"] else args.train
    given = cli.build_parser().parse_args(["train", *train_args])  # what pippin train will read
    base = Path(given.base)
    if args.base_sha256 and base.is_file():
        got = hashlib.sha256(base.read_bytes()).hexdigest()
        if got != args.base_sha256:
            print(f"{base}: SHA-256 {got}, not the base's {args.base_sha256}: a part is missing or twice",
                  file=sys.stderr)
            return 2
    code = cli.main(["train", *train_args])
    if code:
        return code
    back, out = Path(args.bring_back), Path(given.out)
    back.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "adapter.gguf", back / "adapter.gguf")
    shutil.copy(out / "train.json", back / "train.json")
    for snapshot in sorted((out / "curve").glob("*/adapter.gguf")):
        shutil.copy(snapshot, back / f"curve-{snapshot.parent.name}.gguf")
    return 0


if __name__ == "__main__":
    sys.exit(main())
