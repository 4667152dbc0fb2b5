"""Patch llama-cpp-python's vendored llama.cpp (an unpacked sdist) so that llamafile's sgemm
gives a token the same logits in a batch as alone: `python scripts/patch_llama.py SDIST_DIR`.

Why: jump-forward evaluates the tokens the grammar forces in one batch, and must write the
plans step-by-step decoding writes. Stock llama.cpp runs batches on llamafile's sgemm and
single tokens on ggml's dot products. For the quantized weights the two do the same
arithmetic in the same order (per block: the scales' product, an integer dot product, one
fused multiply-add into the output's accumulator; one horizontal sum at the end), so their
results agree to the bit. For the attention's F16 x F16 products they do not (other
accumulators), and a token's logits move by up to 0.5, enough to flip a near-tie. So:
- sgemm declines F16 x F16: the attention always takes ggml's F16 dot products, alone or in
  a batch; the weights keep sgemm's fast batches (prompts ~1.4x the build without it);
- the build is marked: `llama_print_system_info()` lists LLAMAFILE_BATCH_INVARIANT = 1, so
  the planner can tell it from stock llamafile (shared.runtime.models.batch_invariant_build).
tests/test_planner.py checks the installed build: a token's logits the same in a batch as alone.

Each edit must find its text exactly once; another llama.cpp fails loudly here."""

from __future__ import annotations

import sys
from pathlib import Path

CPU = Path("vendor/llama.cpp/ggml/src/ggml-cpu")
MARK = "LLAMAFILE_BATCH_INVARIANT"

EDITS: list[tuple[Path, str, str]] = [
    (CPU / "llamafile/sgemm.cpp",
     "    case GGML_TYPE_F16: {\n#if defined(__AVX512F__)\n",
     "    case GGML_TYPE_F16: {\n        return false;  // pippin: ggml's F16 dot products, batch or not\n"
     "#if defined(__AVX512F__)\n"),
    (CPU / "ggml-cpu.cpp",
     '            features.push_back({ "LLAMAFILE", "1" });\n',
     '            features.push_back({ "LLAMAFILE", "1" });\n'
     f'            features.push_back({{ "{MARK}", "1" }});  // pippin: scripts/patch_llama.py\n'),
]


def patch(sdist: Path) -> None:
    for rel, old, new in EDITS:
        path = sdist / rel
        text = path.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise SystemExit(f"patch_llama: {path}: expected the text to replace once, found it "
                             f"{text.count(old)} times; this llama.cpp is not the one the patch was written for "
                             f"(set PIPPIN_LLAMA_BUILD=native-nollamafile to build without sgemm instead)")
        path.write_text(text.replace(old, new), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/patch_llama.py UNPACKED_LLAMA_CPP_PYTHON_SDIST")
    patch(Path(sys.argv[1]))
    print(f"patch_llama: {sys.argv[1]} patched ({MARK})")
