"""`pippin train`: LoRA fine-tuning of the packaged GGUF planner, exported for llama.cpp.

- The base is the very GGUF file llama.cpp serves (transformers dequantizes it on load),
  so the adapter is trained on the weights it will run with.
- Each sample is the planner's real prompt (services.planner.prompt; with the tools and
  examples retrieval picks when `retrieval` is on) and its reference plan; the loss is on
  the plan only (prompt tokens are masked).
- The adapter is written as peft files and as a llama.cpp LoRA GGUF (general.type
  "adapter"), loaded by the planner with `lora_path`; its SHA-256 goes in train.json.
- A run can stop and go on: every `checkpoint_every` steps the adapter, optimizer, schedule,
  batch order and random states go to `<out>/checkpoint.pt` (one file, replaced atomically),
  and `resume` continues from it, on the same data and settings, to the same result.
- Where the CPU computes in bf16 (AMX or AVX512-BF16) or on a GPU, the forward and backward
  passes run under bf16 autocast; the weights and the optimizer stay float32.
- `snapshots` exports an adapter at given counts of samples seen, for the learning curve.

Full training wants a GPU (see the README); `make test` runs a CPU smoke run on
SmolLM2-135M that trains, exports and serves an adapter with llama.cpp."""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from services.planner.prompt import PROMPT_STYLES, build_prompt, build_short_prompt
from shared.cases import Example
from shared.runtime import models
from shared.runtime.adapter_merge import read_lora_gguf

END = "<|im_end|>"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainSettings:
    base: str = "qwen-0.5b"  # a packaged model name or a GGUF path
    data: str = ""  # a jsonl of {query, plan, now} (pippin gen-data)
    out: str = "models/adapters/qwen-0.5b-pippin"
    seed: int = 0
    epochs: float = 2.0
    max_steps: int = 0  # when set, stop after this many optimizer steps
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 2e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    max_len: int = 2048
    # "full": the planner's prompt (rules, tools, examples); "short": who it is, the date
    # table and the request only (services.planner.prompt.build_short_prompt): the adapter
    # learns the rest. A planner loading the adapter uses the style its train.json records.
    prompt_style: str = "full"
    # Adapt only layers from this one up (0: all). The layers below then need no backward
    # pass: a third less compute a step, for CPU runs.
    layers_from: int = 0
    retrieval: bool = True  # the prompt with retrieved tools and examples, as the pipeline plans
    tools: tuple[str, ...] = ()  # without retrieval: a fixed tool subset (empty: all 16)
    examples: tuple[Example, ...] | None = None  # without retrieval: fixed examples (None: the defaults)
    device: str = "auto"
    log_every: int = 10
    # "auto": bf16 autocast where the hardware computes in bf16 (see bf16_supported); "on"; "off".
    bf16: str = "auto"
    checkpoint_every: int = 20  # optimizer steps between checkpoints (0: none)
    resume: bool = False  # go on from <out>/checkpoint.pt
    # Recompute each adapted layer's activations in the backward pass instead of keeping them:
    # the longest batch (8 x 884 tokens) peaked at 12 GB without, 7.8 GB with, 13% slower; the
    # 24 GB machine ran out of memory twice mid-run without it (the same loss either way).
    activation_checkpointing: bool = True
    snapshots: tuple[int, ...] = ()  # samples seen at which to export an adapter to <out>/curve/<n>/
    # Start from a trained adapter (its GGUF, e.g. the shipped one) instead of a fresh LoRA: a
    # run goes on with new data from where an earlier one ended, when only its adapter is left.
    init_adapter: str = ""
    samples_before: int = 0  # samples the init adapter had seen (the curve counts from there)
    # Another prompt than the planner's (short prompts keep the CPU smoke test quick).
    prompt: Callable[[dict[str, Any]], str] | None = None


def load_samples(path: str | Path) -> list[dict[str, Any]]:
    """A jsonl file, or a gzipped one (.gz): samples with their prompts are ~30x smaller so."""
    path = Path(path)
    if path.suffix == ".gz":
        import gzip

        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


PromptFn = Callable[[dict[str, Any]], str]


def prompt_builder(settings: TrainSettings) -> PromptFn:
    """The planner's prompt for a sample, exactly as it is built when serving."""
    if settings.prompt is not None:
        return settings.prompt
    if settings.prompt_style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {settings.prompt_style!r}; choose one of {PROMPT_STYLES}")
    if settings.prompt_style == "short":
        return lambda sample: build_short_prompt(sample["query"], sample["now"]).render("chatml")
    if settings.prompt_style == "grounded":
        from services.planner.grounding import Inventory, ground

        def grounded(sample: dict[str, Any]) -> str:
            # The same grounding the planner runs, misses included, on the sample's own Mac.
            inventory = Inventory(**{k: tuple(v) for k, v in sample.get("inventory", {}).items()})
            found = ground(sample["query"], sample["now"], inventory).prompt_block()
            return build_short_prompt(sample["query"], sample["now"], found=found).render("chatml")

        return grounded
    if settings.retrieval:
        from services.retrieval.retriever import Retriever

        retriever = Retriever.load()

        def with_retrieval(sample: dict[str, Any]) -> str:
            got = retriever.retrieve(sample["query"])
            return build_prompt(sample["query"], sample["now"], () if got.fallback else got.tools,
                                got.examples).render("chatml")

        return with_retrieval

    def fixed(sample: dict[str, Any]) -> str:
        return build_prompt(sample["query"], sample["now"], settings.tools, settings.examples).render("chatml")

    return fixed


def prompts_of(samples: list[dict[str, Any]], settings: TrainSettings) -> list[str]:
    """Each sample's prompt: the one it carries (`gen-data --with-prompts`, made where grounding's
    and retrieval's libraries are installed, e.g. for a GPU machine that has only torch), or
    the one prompt_builder makes now."""
    build: PromptFn | None = None
    prompts = []
    for sample in samples:
        if isinstance(sample.get("prompt"), str):
            prompts.append(sample["prompt"])
            continue
        build = build or prompt_builder(settings)
        prompts.append(build(sample))
    return prompts


def load_base(base: str, device: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = models.resolve(base)
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype)
    return model.to(device), tokenizer


def encode(tokenizer: Any, prompt: str, plan: str, max_len: int) -> tuple[list[int], list[int]] | None:
    """Token ids and labels (-100 on the prompt: the loss is on the plan only)."""
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(plan + END, add_special_tokens=False)["input_ids"]
    if len(p) + len(c) > max_len:
        return None
    return p + c, [-100] * len(p) + c


LOSS_SLICE = 512  # plan positions whose logits are made at once


def plan_loss(model: Any, ids: Any, mask: Any, labels: Any) -> Any:
    """The causal LM loss on the plan tokens, the mean over them as transformers computes it,
    but with the vocabulary projection made only where a label is: logits for every position
    of a batch of 8 prompts of ~1,500 tokens are 8 x 1,500 x 151,936 floats (7 GB, and as much
    again for their gradient), which ran a 24 GB machine out of memory mid-run."""
    import torch
    from torch.utils.checkpoint import checkpoint

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = base.model(input_ids=ids, attention_mask=mask).last_hidden_state  # [B, T, H]
    targets = labels[:, 1:]
    where = targets != -100
    picked, wanted = hidden[:, :-1][where], targets[where]  # the positions that predict a plan token

    def summed(h: Any, t: Any) -> Any:
        return torch.nn.functional.cross_entropy(base.lm_head(h).float(), t, reduction="sum")

    # In slices, each recomputed in the backward pass: the logits of one slice exist at a time.
    total = sum(checkpoint(summed, picked[i: i + LOSS_SLICE], wanted[i: i + LOSS_SLICE], use_reentrant=False)
                for i in range(0, len(wanted), LOSS_SLICE))
    return total / max(1, len(wanted))


def batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of batches: samples shuffled, then grouped with others of about their
    length (sorted within windows of 32 batches), so that little of a batch is padding;
    the batches' order is shuffled again."""
    order = rng.sample(range(len(lengths)), len(lengths))
    window = batch_size * 32
    out: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start: start + window], key=lambda i: lengths[i])
        out += [chunk[k: k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def bf16_supported(device: str) -> bool:
    """Whether bf16 autocast pays here: a CUDA GPU with bf16, or a CPU with AMX or AVX512-BF16
    (elsewhere the CPU emulates bf16 and is slower than float32)."""
    import torch

    if device == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:  # not Linux: no way to tell, keep float32
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def use_bf16(settings: TrainSettings, device: str) -> bool:
    if settings.bf16 not in ("auto", "on", "off"):
        raise ValueError(f"bf16 must be auto, on or off, not {settings.bf16!r}")
    return settings.bf16 == "on" or (settings.bf16 == "auto" and bf16_supported(device))


# What a checkpoint must agree on with the run that resumes it (anything else may differ:
# the log interval, the device, where the snapshots go).
RESUME_KEYS = ("base", "seed", "epochs", "max_steps", "batch_size", "grad_accum", "lr", "rank", "alpha", "dropout",
               "max_len", "prompt_style", "layers_from", "retrieval", "tools", "init_adapter", "samples_before")


def checkpoint_path(settings: TrainSettings) -> Path:
    return Path(settings.out) / "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """One file, written beside and renamed over the old one: a kill mid-write leaves the
    previous checkpoint whole."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


LINEAGE_KEYS = ("command", "data_sha256", "samples_seen", "adapter_sha256")


def lineage_of(init_adapter: str) -> list[dict[str, Any]]:
    """The runs behind the adapter a run starts from, oldest first, as the train.json beside it
    tells them (its `lineage`, or else the one run it describes). A train.json that describes
    another file (a different SHA-256) is not believed: the lineage is then that SHA alone."""
    if not init_adapter:
        return []
    path = Path(init_adapter)
    sha = models.sha256_of(path)
    beside = path.parent / "train.json"
    if beside.exists():
        info = json.loads(beside.read_text())
        if info.get("adapter_sha256") == sha:
            return info.get("lineage") or [{k: info[k] for k in LINEAGE_KEYS if k in info}]
    return [{"adapter_sha256": sha, "note": f"{path}: no train.json beside it describes this file"}]


def train(settings: TrainSettings, log: Callable[[str], None] = print) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    device = settings.device if settings.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = use_bf16(settings, device)
    samples = load_samples(settings.data)
    data_sha256 = models.sha256_of(Path(settings.data))
    t0 = time.time()
    prompts = prompts_of(samples, settings)
    model, tokenizer = load_base(settings.base, device)
    rows = [encode(tokenizer, prompt, s["plan"], settings.max_len) for prompt, s in zip(prompts, samples, strict=True)]
    data = [r for r in rows if r is not None]
    log(f"{len(data)} samples ({len(rows) - len(data)} over {settings.max_len} tokens left out), "
        f"prompts built in {time.time() - t0:.0f}s, device {device}{', bf16 autocast' if bf16 else ', float32'}")
    n_layers = model.config.num_hidden_layers
    layers = list(range(settings.layers_from, n_layers)) if settings.layers_from else None
    if settings.activation_checkpointing:
        # Non-reentrant: the frozen lower layers give the checkpointed ones inputs without grad.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                                             lora_dropout=settings.dropout, target_modules=list(LORA_TARGETS),
                                             layers_to_transform=layers, task_type="CAUSAL_LM"))
    lineage = lineage_of(settings.init_adapter)  # read now: the file may be replaced while this run trains
    if settings.init_adapter:
        set_peft_model_state_dict(model, load_lora_gguf(model, Path(settings.init_adapter),
                                                         models.resolve(settings.base)))
        log(f"started from the adapter {settings.init_adapter} ({settings.samples_before} samples seen)")
    model.train()
    steps_per_epoch = max(1, math.ceil(len(data) / (settings.batch_size * settings.grad_accum)))
    total = settings.max_steps or max(1, int(settings.epochs * steps_per_epoch))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, total // 20)) * max(0.0, 1 - s / total))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    losses: list[float] = []
    rng = random.Random(settings.seed)
    lengths = [len(ids) for ids, _ in data]
    queue: list[list[int]] = []
    step = 0
    seconds_before = 0.0  # training time of the runs this one resumes
    fingerprint = {k: v for k, v in asdict(settings).items() if k in RESUME_KEYS} | {"data_sha256": data_sha256}
    ckpt = checkpoint_path(settings)
    if settings.resume:
        if not ckpt.exists():
            raise FileNotFoundError(f"no checkpoint to resume at {ckpt}; start without --resume")
        state = torch.load(ckpt, map_location=device, weights_only=False)
        differ = {k: (state["fingerprint"].get(k), v) for k, v in fingerprint.items()
                  if state["fingerprint"].get(k) != (list(v) if isinstance(v, tuple) else v)}
        if differ:
            raise ValueError(f"{ckpt} was made with other settings or data (checkpoint, now): {differ}; "
                             "resume with the same ones, or start a new run in another --out")
        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, losses, queue, seconds_before = state["step"], state["losses"], state["queue"], state["seconds"]
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed at step {step}/{total} from {ckpt}")
    t_train = time.time()
    pending = sorted(n for n in settings.snapshots
                     if n > settings.samples_before + step * settings.batch_size * settings.grad_accum)
    while step < total:
        for _ in range(settings.grad_accum):
            if not queue:
                queue = batches(lengths, settings.batch_size, rng)
            batch = [data[i] for i in queue.pop()]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.tensor([x + [pad] * (width - len(x)) for x, _ in batch], device=device)
            labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch], device=device)
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch], device=device)
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                loss = plan_loss(model, ids, mask, labels) / settings.grad_accum
            loss.backward()
            losses.append(float(loss.detach()) * settings.grad_accum)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        seen = settings.samples_before + step * settings.batch_size * settings.grad_accum
        if step % settings.log_every == 0 or step == total:
            recent = losses[-settings.log_every * settings.grad_accum:]
            log(f"step {step}/{total} loss {sum(recent) / len(recent):.4f} "
                f"({seconds_before + time.time() - t_train:.0f}s training)")
        while pending and seen >= pending[0]:
            at = Path(settings.out) / "curve" / str(pending.pop(0))
            at.mkdir(parents=True, exist_ok=True)
            export_lora_gguf(model, models.resolve(settings.base), at / "adapter.gguf", settings.alpha)
            (at / "train.json").write_text(json.dumps(
                {"samples_seen": seen, "step": step, "adapter": "adapter.gguf",
                 "adapter_sha256": models.sha256_of(at / "adapter.gguf"), "prompt_style": settings.prompt_style,
                 "loss_recent": round(sum(losses[-10:]) / max(1, len(losses[-10:])), 4)}, indent=1) + "\n")
            log(f"snapshot after {seen} samples: {at}")
        if settings.checkpoint_every and (step % settings.checkpoint_every == 0 or step == total):
            save_checkpoint(ckpt, {
                "fingerprint": {k: list(v) if isinstance(v, tuple) else v for k, v in fingerprint.items()},
                "adapter": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": step, "losses": losses, "queue": queue,
                "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                "seconds": seconds_before + time.time() - t_train})

    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out / "peft"))
    gguf_path = out / "adapter.gguf"
    export_lora_gguf(model, models.resolve(settings.base), gguf_path, settings.alpha)
    summary = {
        "command": "pippin train " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (
            ("base", settings.base), ("data", settings.data), ("out", settings.out), ("seed", settings.seed),
            ("epochs", settings.epochs), ("max-steps", settings.max_steps), ("batch-size", settings.batch_size),
            ("lr", settings.lr), ("rank", settings.rank), ("alpha", settings.alpha),
            ("prompt", settings.prompt_style), ("layers-from", settings.layers_from), ("bf16", settings.bf16),
            ("init-adapter", settings.init_adapter), ("samples-before", settings.samples_before))
            if v not in ("", None) and not (k in ("max-steps", "layers-from", "samples-before") and v == 0)),
        "settings": {k: v for k, v in asdict(settings).items() if k not in ("examples", "prompt")},
        "prompt_style": settings.prompt_style, "samples": len(data), "steps": total, "bf16_autocast": bf16,
        "data_sha256": data_sha256, "training_seconds": round(seconds_before + time.time() - t_train, 1),
        "loss_first": round(sum(losses[:10]) / max(1, len(losses[:10])), 4),
        "loss_last": round(sum(losses[-10:]) / max(1, len(losses[-10:])), 4), "seconds": round(time.time() - t0, 1),
        "adapter": gguf_path.name, "adapter_sha256": models.sha256_of(gguf_path),
        "base_sha256": models.sha256_id(models.resolve(settings.base)),
        "samples_seen": settings.samples_before + total * settings.batch_size * settings.grad_accum,
    }
    summary["lineage"] = [*lineage, {k: summary[k] for k in LINEAGE_KEYS}]
    (out / "train.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _llama_permute(w: Any, n_head: int) -> Any:
    """llama.cpp's row order for q/k of llama-architecture models (its converter permutes them)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _gguf_lora_names(model: Any, base_gguf: Path) -> tuple[str, dict[str, str], int, int]:
    """The base's architecture, each LoRA A weight's llama.cpp tensor name (by its peft
    state key), and the head counts (for llama's q/k row order)."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    n_layers = int(reader.fields[f"{arch}.block_count"].parts[-1][0])
    n_head = int(reader.fields[f"{arch}.attention.head_count"].parts[-1][0])
    n_head_kv = int(reader.fields[f"{arch}.attention.head_count_kv"].parts[-1][0])
    arch_enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    names = gguf.get_tensor_name_map(arch_enum, n_layers)
    out: dict[str, str] = {}
    for key in model.state_dict():
        if ".lora_A." not in key:
            continue
        hf_name = key.split("base_model.model.", 1)[-1].replace(".lora_A.default", "")
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight",))
        if gguf_name is None:
            raise ValueError(f"no llama.cpp name for {hf_name}")
        out[key] = gguf_name
    return arch, out, n_head, n_head_kv


def _llama_unpermute(w: Any, n_head: int) -> Any:
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_lora_gguf(out: Path, arch: str, alpha: float, tensors: Iterable[tuple[str, Any]]) -> None:
    """A llama.cpp adapter GGUF of these "<gguf name>.lora_a" / ".lora_b" tensors, written F16
    (as llama.cpp's own converter writes them: half the size of F32, the same plans)."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    for name, value in tensors:
        writer.add_tensor(name, np.ascontiguousarray(value, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def load_lora_gguf(model: Any, adapter: Path, base_gguf: Path) -> dict[str, Any]:
    """The peft state (lora_A and lora_B of every adapted weight) held in a llama.cpp adapter
    GGUF written by export_lora_gguf, for a model with the same LoRA layout."""
    import torch

    tensors = read_lora_gguf(adapter)[2]
    arch, names, n_head, n_head_kv = _gguf_lora_names(model, base_gguf)
    state: dict[str, Any] = {}
    for key, gguf_name in names.items():
        if f"{gguf_name}.lora_a" not in tensors:
            raise ValueError(f"{adapter} has no {gguf_name}.lora_a: it was trained on other layers or weights")
        a, b = tensors.pop(f"{gguf_name}.lora_a"), tensors.pop(f"{gguf_name}.lora_b")
        if arch == "llama" and (".q_proj." in key or ".k_proj." in key):
            b = _llama_unpermute(b, n_head if ".q_proj." in key else n_head_kv)
        state[key.replace(".default", "")] = torch.from_numpy(a)
        state[key.replace(".lora_A.default", ".lora_B")] = torch.from_numpy(b)
    if tensors:
        raise ValueError(f"{adapter} adapts weights this run does not ({sorted(tensors)[:3]}...): "
                         "use its --layers-from and rank")
    return state


def export_lora_gguf(model: Any, base_gguf: Path, out: Path, alpha: float) -> None:
    """Write the LoRA as a llama.cpp adapter GGUF: for each adapted weight W (out x in),
    "<gguf name>.lora_a" (rank x in) and ".lora_b" (out x rank)."""
    arch, names, n_head, n_head_kv = _gguf_lora_names(model, base_gguf)
    state = model.state_dict()

    def tensors() -> Iterator[tuple[str, Any]]:
        for key, gguf_name in names.items():
            a = state[key].detach().float().cpu().numpy()
            b = state[key.replace(".lora_A.", ".lora_B.")].detach().float().cpu().numpy()
            if arch == "llama" and (".q_proj." in key or ".k_proj." in key):
                b = _llama_permute(b, n_head if ".q_proj." in key else n_head_kv)
            yield f"{gguf_name}.lora_a", a
            yield f"{gguf_name}.lora_b", b

    write_lora_gguf(out, arch, alpha, tensors())


def blend_lora_gguf(adapters: list[Path], weights: list[float], out: Path) -> dict[str, Any]:
    """One adapter whose change to each weight is the weighted sum of the adapters' changes
    (sum of w_i * B_i A_i): their A's stacked and their B's side by side, each B scaled by its
    weight, so the rank adds up and alpha grows with it (llama.cpp scales by alpha / rank).
    Why: an adapter trained on with new data loses some of what it knew; the average of the
    two (weight-space ensembling, as in WiSE-FT) often keeps both. Exact up to F16; no retraining."""
    import numpy as np

    if len(adapters) != len(weights) or len(adapters) < 2:
        raise ValueError("give two or more adapters and one weight for each")
    # The planner reads an adapter's prompt style from the train.json beside it, so the blend
    # gets a folder and a train.json of its own (without one it would be prompted wrongly).
    for path in adapters:
        if path.resolve().parent == out.resolve().parent:
            raise ValueError(f"{out.parent} holds {path.name}, one of the adapters blended: write the blend in a "
                             "folder of its own (its train.json would stand for both)")
    styles = {models.adapter_prompt_style(p) for p in adapters}
    if len(styles) > 1:
        raise ValueError(f"the adapters were trained on different prompts ({sorted(styles)}): blend adapters "
                         "trained with the same --prompt")
    read = [read_lora_gguf(p) for p in adapters]
    arch, _, first = read[0]
    names = sorted(first)
    for path, (other_arch, _, held) in zip(adapters, read, strict=True):
        if other_arch != arch or sorted(held) != names:
            raise ValueError(f"{path} adapts other weights than {adapters[0]}: blend adapters of one base, "
                             "trained with the same --layers-from")
    ranks = [held[names[0]].shape[0] for _, _, held in read]
    scales = [alpha / rank for (_, alpha, _), rank in zip(read, ranks, strict=True)]
    if any(abs(s - scales[0]) > 1e-6 for s in scales):
        raise ValueError(f"the adapters' alpha / rank differ ({scales}): blend adapters trained with the same "
                         "--rank and --alpha")
    rank = sum(ranks)

    def blended(name: str) -> Any:
        if name.endswith(".lora_a"):
            return np.concatenate([held[name] for _, _, held in read], axis=0)
        return np.concatenate([w * held[name] for w, (_, _, held) in zip(weights, read, strict=True)], axis=1)

    out.parent.mkdir(parents=True, exist_ok=True)
    write_lora_gguf(out, arch, scales[0] * rank, ((name, blended(name)) for name in names))
    summary = {"blend_of": [{"adapter": str(p), "adapter_sha256": models.sha256_of(p), "weight": w}
                            for p, w in zip(adapters, weights, strict=True)],
               "rank": rank, "alpha": scales[0] * rank, "prompt_style": styles.pop(),
               "adapter": out.name, "adapter_sha256": models.sha256_of(out)}
    (out.parent / "train.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary | {"out": str(out)}
