"""A LoRA adapter merged into its base model's weights, once, cached.

llama.cpp applies an adapter at run time as extra small matmuls on every adapted layer, for
every token. Merged into the weights those are gone: prompts ~1.2x faster on 2 cores, plans
1.14-1.20x (`python -m bench.run adapter_merge`; README, Plan latency). The base is quantized (Q5_0, Q4_K, Q6_K),
and the adapter's deltas are of the size of that rounding: re-quantized to each tensor's own
type the merge lost 4-5 points on dev and fresh, so the merged tensors are written as Q8_0,
whose rounding keeps the deltas (the same scores as at run time). Every other tensor and all
metadata are copied as they are.

The merged file lives in the model cache under a name made of the base's and the adapter's
SHA-256, so a new adapter gets a new file and an old one is never used for it."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from shared.runtime import models

MERGED_DIR = models.CACHE_DIR / "merged"
MERGED_TYPE = "Q8_0"
KEEP = 3  # merged files kept per base model (each ~560 MB for the 0.5B); the oldest go first


class MergeError(RuntimeError):
    pass


def _ggml_quantizer() -> Any:
    """ggml's own quantize function, from the libggml llama-cpp-python ships."""
    import llama_cpp

    lib_dir = Path(llama_cpp.__file__).parent / "lib"
    found = sorted(lib_dir.glob("libggml-base.*"))
    if not found:
        raise MergeError(f"no libggml-base in {lib_dir}: this llama-cpp-python build does not ship ggml's quantizer")
    lib = ctypes.CDLL(str(found[0]))
    fn = lib.ggml_quantize_chunk
    fn.restype = ctypes.c_size_t
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                   ctypes.c_void_p]
    return fn


def read_lora_gguf(adapter: Path) -> tuple[str, float, dict[str, Any]]:
    """A llama.cpp adapter GGUF's architecture, alpha and tensors (name -> float32 array)."""
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(str(adapter))
    for name in ("general.architecture", "adapter.lora.alpha"):
        if name not in reader.fields:
            raise ValueError(f"{adapter} has no {name}: not a LoRA adapter GGUF")
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    alpha = float(reader.fields["adapter.lora.alpha"].parts[-1][0])
    return arch, alpha, {t.name: np.array(t.data, dtype=np.float32) for t in reader.tensors}


def merge_adapter(base_path: Path, adapter_path: Path, out_path: Path, as_type: str | None = MERGED_TYPE) -> int:
    """Write base + adapter as one GGUF: each adapted tensor dequantized, W + (alpha/rank)·B·A
    added, quantized to `as_type` (None: the tensor's own type again). Returns how many
    tensors were merged."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize

    quantize_chunk = _ggml_quantizer()
    base = gguf.GGUFReader(base_path)
    _, alpha, lora = read_lora_gguf(adapter_path)
    names = {t.name for t in base.tensors}
    unknown = sorted({k.rsplit(".lora_", 1)[0] for k in lora} - names)
    if unknown:
        raise MergeError(f"{adapter_path} adapts tensors {base_path.name} lacks ({', '.join(unknown[:3])}...): "
                         f"an adapter for another base model?")
    writer = gguf.GGUFWriter(out_path, arch=base.get_field("general.architecture").contents())
    for f in base.fields.values():
        if f.name == gguf.Keys.General.ARCHITECTURE or f.name.startswith("GGUF."):
            continue  # the writer writes these itself
        kind = f.types[0]
        sub_type = f.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(f.name, f.contents(), kind, sub_type=sub_type)
    merged = 0
    for t in base.tensors:
        if t.name + ".lora_a" not in lora:
            writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
            continue
        a, b = lora[t.name + ".lora_a"], lora[t.name + ".lora_b"]  # rank x in, out x rank
        weights = np.ascontiguousarray(dequantize(t.data, t.tensor_type) + (alpha / a.shape[0]) * (b @ a),
                                       dtype=np.float32)
        rows, per_row = weights.shape
        kind = gguf.GGMLQuantizationType[as_type] if as_type else t.tensor_type
        block, block_bytes = gguf.GGML_QUANT_SIZES[kind]
        if per_row % block:
            raise MergeError(f"{t.name}: rows of {per_row} cannot be quantized as {kind.name} (blocks of {block})")
        data = np.zeros((rows, per_row // block * block_bytes), dtype=np.uint8)
        written = quantize_chunk(int(kind), weights.ctypes.data, data.ctypes.data, 0, rows, per_row, None)
        if written != data.nbytes:
            raise MergeError(f"{t.name}: ggml wrote {written} bytes, expected {data.nbytes}")
        writer.add_tensor(t.name, data, raw_dtype=kind)
        merged += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return merged


def merged_model(base_path: Path, adapter_path: Path) -> Path:
    """The merged GGUF of this base and adapter: from the cache, else made now (~15 s for the
    0.5B) and stamped with its digest, so that `models.sha256_id` names it without re-hashing."""
    key = hashlib.sha256(f"{models.sha256_id(base_path)}|{models.sha256_of(adapter_path)}|{MERGED_TYPE}".encode())
    out = MERGED_DIR / f"{base_path.stem}+{key.hexdigest()[:16]}.gguf"
    if out.exists():
        return out
    MERGED_DIR.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.partial")  # two processes may merge at once; both write the same
    try:
        merge_adapter(base_path, adapter_path, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    st = out.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": models.sha256_of(out)}
    out.with_suffix(out.suffix + ".verified").write_text(json.dumps(stamp))
    for old in sorted(MERGED_DIR.glob(f"{base_path.stem}+*.gguf"), key=lambda p: p.stat().st_mtime,
                      reverse=True)[KEEP:]:
        old.unlink(missing_ok=True)
        old.with_suffix(old.suffix + ".verified").unlink(missing_ok=True)
    return out


def main(argv: list[str]) -> int:
    """`python -m shared.runtime.adapter_merge MODEL...`: merge each model's shipped adapter now
    (make setup does), so that the planner's first start does not."""
    if not argv:
        print("usage: python -m shared.runtime.adapter_merge MODEL... (" + ", ".join(models.MODELS) + ")")
        return 2
    for name in argv:
        adapter = models.shipped_adapter(name)
        if adapter is None:
            print(f"{name}: no adapter shipped; nothing to merge")
            continue
        print(f"{name}: {merged_model(models.path_of(name), adapter)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
