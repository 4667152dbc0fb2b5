"""The shipped LoRA adapter applied at run time (the default) against the same adapter merged
into the base model's weights, in one process, alternating.

llama.cpp applies an adapter as extra small matmuls on every adapted layer, each token; merged,
those are gone. But the base is quantized (Q5_0, Q4_K, Q6_K), so a merged tensor must be
quantized again, and the adapter's deltas (about a twentieth of a weight) are of the size of
that rounding. This bench measures the speed side; the accuracy side is an eval of the merged
file (`python -m bench.adapter_merge_bench --write merged.gguf`, then `pippin eval CASES
--planner llm --retrieval --model merged.gguf --lora '' --prompt-style grounded`).

Figures: prompt tokens/s (one batch of 512) and decode tokens/s (one token a step), as
`llama_build_bench.token_speeds` measures them, each way, twice in turn (the better of the
two kept); ratios merged over run time."""

from __future__ import annotations

import ctypes
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROUNDS = 2


def _ggml_quantizer() -> Any:
    """ggml's own quantize function (K-quants included), from the libggml llama-cpp-python ships."""
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    lib = ctypes.CDLL(str(next(p for p in sorted(lib_dir.glob("libggml-base.*")))))
    fn = lib.ggml_quantize_chunk
    fn.restype = ctypes.c_size_t
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                   ctypes.c_void_p]
    return fn


def merge_adapter(base_path: Path, adapter_path: Path, out_path: Path) -> int:
    """Write base + adapter as one GGUF: each adapted tensor dequantized, W + (alpha/rank)·B·A
    added, quantized again to its own type; every other tensor and all metadata copied.
    Returns how many tensors were merged."""
    import gguf
    from gguf.quants import dequantize

    from pippin.train import read_lora_gguf

    quantize_chunk = _ggml_quantizer()
    base = gguf.GGUFReader(base_path)
    _, alpha, lora = read_lora_gguf(adapter_path)
    writer = gguf.GGUFWriter(out_path, arch=base.get_field("general.architecture").contents())
    for field in base.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer writes these itself
        kind = field.types[0]
        writer.add_key_value(field.name, field.contents(), kind,
                             sub_type=field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None)
    merged = 0
    for t in base.tensors:
        data = t.data
        if t.name + ".lora_a" in lora:
            a, b = lora[t.name + ".lora_a"], lora[t.name + ".lora_b"]  # rank x in, out x rank
            weights = np.ascontiguousarray(dequantize(t.data, t.tensor_type) + (alpha / a.shape[0]) * (b @ a),
                                           dtype=np.float32)
            rows, per_row = weights.shape
            block, block_bytes = gguf.GGML_QUANT_SIZES[t.tensor_type]
            data = np.zeros((rows, per_row // block * block_bytes), dtype=np.uint8)
            written = quantize_chunk(int(t.tensor_type), weights.ctypes.data, data.ctypes.data, 0, rows, per_row, None)
            if written != data.nbytes:
                raise RuntimeError(f"{t.name}: ggml wrote {written} bytes, expected {data.nbytes}")
            merged += 1
        writer.add_tensor(t.name, data, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return merged


def _speed(model_path: Path, adapter: Path | None) -> tuple[float, float]:
    from bench.llama_build_bench import token_speeds
    from shared.runtime import models

    llm = models.load_llama(model_path, batch_invariant=True, n_ctx=2048, n_threads=2, n_batch=512,
                            lora_path=str(adapter) if adapter else None, verbose=False, seed=0)
    try:
        return token_speeds(llm)
    finally:
        llm.close()


def run() -> dict[str, Any]:
    from shared.runtime import models

    base = models.resolve("qwen-0.5b")
    adapter = models.shipped_adapter("qwen-0.5b")
    if adapter is None:
        return {"skipped": "no adapter shipped for qwen-0.5b"}
    with tempfile.TemporaryDirectory() as tmp:
        merged_path = Path(tmp) / "merged.gguf"
        t = time.perf_counter()
        merged = merge_adapter(base, adapter, merged_path)
        merge_s = time.perf_counter() - t
        runs: dict[str, list[tuple[float, float]]] = {"run time": [], "merged": []}
        for _ in range(ROUNDS):
            runs["run time"].append(_speed(base, adapter))
            runs["merged"].append(_speed(merged_path, None))
    best = {k: (max(p for p, _ in v), max(d for _, d in v)) for k, v in runs.items()}
    return {
        "tensors merged (re-quantized to their own type)": merged,
        "merge seconds": round(merge_s, 1),
        "prompt tokens/s (batch of 512): run time / merged": f"{best['run time'][0]:.1f} / {best['merged'][0]:.1f}",
        "decode tokens/s (one a step): run time / merged": f"{best['run time'][1]:.1f} / {best['merged'][1]:.1f}",
        "ratio merged over run time: prompt / decode": (f"{best['merged'][0] / best['run time'][0]:.2f}x / "
                                                        f"{best['merged'][1] / best['run time'][1]:.2f}x"),
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write"] and len(sys.argv) == 3:
        from shared.runtime import models

        shipped = models.shipped_adapter("qwen-0.5b")
        if shipped is None:
            raise SystemExit("no adapter shipped for qwen-0.5b")
        n = merge_adapter(models.resolve("qwen-0.5b"), shipped, Path(sys.argv[2]))
        print(f"wrote {sys.argv[2]}: {n} tensors merged")
    else:
        print(run())
