"""The training path, kept alive on the CPU: a few LoRA steps on SmolLM2-135M (loaded from
the GGUF that llama.cpp serves), exported as a llama.cpp adapter GGUF, then run by
llama.cpp with `lora_path`. Trained on one request until it knows it by heart, the
adapted model writes that plan where the base model does not: proof that the weights,
names and layout of the export are right, not just that a file was written. (A short
prompt keeps it quick; the real runs use the planner's prompt.)"""

import hashlib
import json
import logging

import pytest

SAMPLE = {"query": "text Bo that the gate code is 4821", "now": "2027-02-02 10:00:00",
          "plan": '1. get_phone_number("Bo")\n2. send_sms(["$1"], "The gate code is 4821.")\n3. join()'}


def short_prompt(sample: dict) -> str:
    return f"<|im_start|>user\nPlan: {sample['query']}<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.slow
@pytest.mark.llm
def test_lora_trains_exports_and_runs_on_llama_cpp(tmp_path) -> None:
    from llama_cpp import Llama

    from pippin.train import TrainSettings, blend_lora_gguf, train
    from shared.runtime import models

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(SAMPLE) + "\n")
    settings = TrainSettings(base="smollm2-135m", data=str(data), out=str(tmp_path / "adapter"), max_steps=40,
                             batch_size=1, lr=3e-3, rank=8, alpha=16, dropout=0.0, retrieval=False,
                             prompt=short_prompt, device="cpu", log_every=10)
    summary = train(settings, log=lambda line: None)
    assert summary["loss_last"] < summary["loss_first"] / 4, summary
    adapter = tmp_path / "adapter" / "adapter.gguf"
    assert adapter.exists() and summary["adapter_sha256"] == models.sha256_of(adapter)

    def complete(lora: str | None) -> str:
        llm = Llama(model_path=str(models.path_of("smollm2-135m")), lora_path=lora, n_ctx=256, verbose=False, seed=0)
        out = llm.create_completion(short_prompt(SAMPLE), max_tokens=60, temperature=0.0, top_k=1,
                                    stop=["<|im_end|>"])
        return out["choices"][0]["text"].strip()

    base, tuned = complete(None), complete(str(adapter))
    assert tuned == SAMPLE["plan"], tuned
    assert base != SAMPLE["plan"]
    # llama.cpp takes a blend too (twice the rank, alpha grown with it): half and half of one
    # adapter is that adapter.
    blended = tmp_path / "blended" / "adapter.gguf"
    blend_lora_gguf([adapter, adapter], [0.5, 0.5], blended)
    assert complete(str(blended)) == SAMPLE["plan"]


def test_a_shipped_adapter_is_checked_before_use(tmp_path, monkeypatch) -> None:
    from shared.runtime import models

    monkeypatch.setattr(models, "ADAPTER_DIR", tmp_path)
    assert models.shipped_adapter("qwen-0.5b") is None  # none shipped: the base model alone
    folder = tmp_path / "qwen-0.5b-pippin"
    folder.mkdir()
    (folder / "adapter.gguf").write_bytes(b"weights")
    (folder / "train.json").write_text(json.dumps({"adapter": "adapter.gguf",
                                                   "adapter_sha256": models.sha256_of(folder / "adapter.gguf")}))
    assert models.shipped_adapter("qwen-0.5b") == folder / "adapter.gguf"
    (folder / "adapter.gguf").write_bytes(b"tampered")
    with pytest.raises(models.ModelError, match="refusing"):
        models.shipped_adapter("qwen-0.5b")


def test_batches_hold_every_sample_once_beside_others_of_its_length() -> None:
    import random

    from pippin.train import batches

    rng = random.Random(0)
    lengths = [rng.randint(100, 500) for _ in range(1000)]
    got = batches(lengths, 8, random.Random(1))
    assert sorted(i for b in got for i in b) == list(range(1000))
    padded = sum(max(lengths[i] for i in b) * len(b) for b in got)
    assert padded / sum(lengths) < 1.1  # shuffled without grouping: about 1.5
    assert got != batches(lengths, 8, random.Random(2))  # the order is the seed's


@pytest.mark.slow
@pytest.mark.llm
def test_an_adapter_trained_on_the_short_prompt_is_served_with_it(tmp_path, caplog) -> None:
    """`--prompt short`: train.json records the prompt style; a planner loading the adapter
    builds that prompt (no rules, tools or examples) and writes the plan it learned.
    Only the upper layers are adapted (`layers_from`), as in CPU runs."""
    from pippin.train import TrainSettings, train
    from services.planner.base import PlanRequest
    from services.planner.llm import LlmPlanner, PlannerSettings
    from shared.runtime import adapter_merge, models

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(SAMPLE) + "\n")
    settings = TrainSettings(base="smollm2-135m", data=str(data), out=str(tmp_path / "adapter"), max_steps=40,
                             batch_size=1, lr=3e-3, rank=8, alpha=16, dropout=0.0, prompt_style="short",
                             layers_from=15, device="cpu", log_every=10)
    summary = train(settings, log=lambda line: None)
    assert summary["prompt_style"] == "short" and "--prompt short --layers-from 15" in summary["command"]
    planner = LlmPlanner(PlannerSettings(model="smollm2-135m", lora_path=str(tmp_path / "adapter" / "adapter.gguf"),
                                         max_tokens=80))
    assert planner.settings.prompt_style == "short"
    request = PlanRequest(SAMPLE["query"], SAMPLE["now"])
    prompt = planner.prompt_text(request)
    assert f"Request: {SAMPLE['query']}" in prompt and "Tools:" not in prompt and "get_phone_number" not in prompt
    assert "".join(planner.stream(request)).strip() == SAMPLE["plan"]
    # Merged into the weights by default (cached), and the same plan applied at run time.
    assert planner.model_path.parent == adapter_merge.MERGED_DIR
    at_run_time = LlmPlanner(PlannerSettings(model="smollm2-135m", lora_path=str(tmp_path / "adapter" / "adapter.gguf"),
                                             max_tokens=80, merge_adapter=False))
    assert at_run_time.model_path == models.path_of("smollm2-135m")
    assert "".join(at_run_time.stream(request)).strip() == SAMPLE["plan"]
    base = LlmPlanner(PlannerSettings(model="smollm2-135m", lora_path="", max_tokens=80))
    assert base.settings.prompt_style == "full" and "Tools:" in base.prompt_text(request)
    # Without its train.json the adapter's prompt is a guess, and the planner says so.
    alone = tmp_path / "alone" / "adapter.gguf"
    alone.parent.mkdir()
    alone.write_bytes((tmp_path / "adapter" / "adapter.gguf").read_bytes())
    with caplog.at_level(logging.WARNING, logger="shared.runtime.models"):
        guessed = LlmPlanner(PlannerSettings(model="smollm2-135m", lora_path=str(alone), max_tokens=80))
    assert guessed.settings.prompt_style == "full"
    assert any("no train.json" in r.getMessage() for r in caplog.records), caplog.records


def test_the_grounded_prompt_carries_what_grounding_found_on_the_samples_own_mac() -> None:
    from pippin.datagen import generate
    from pippin.train import TrainSettings, prompt_builder

    build = prompt_builder(TrainSettings(prompt_style="grounded"))
    samples = [s.to_json() for s in generate(60, seed=3)]
    assert all(set(s["inventory"]) == {"calendars", "reminder_lists", "note_folders", "notes", "contacts"}
               for s in samples)
    timed = next(s for s in samples if "create_reminder" in s["plan"] and ":00:00\"" in s["plan"])
    prompt = build(timed)
    assert "\nFound: " in prompt and prompt.index("Found: ") < prompt.index("Request: ")
    plain = build({"query": "open my resume", "now": "2027-02-02 10:00:00", "plan": "", "inventory": {}})
    assert "Found:" not in plain


def test_samples_written_with_their_prompts_train_on_exactly_those_prompts(tmp_path) -> None:
    """`gen-data --with-prompts grounded --out F.jsonl.gz`: each sample carries the prompt the
    trainer would make, so a machine without grounding's libraries trains on the same text."""
    from pippin.datagen import generate, write_jsonl
    from pippin.train import TrainSettings, load_samples, prompt_builder, prompts_of

    settings = TrainSettings(prompt_style="grounded")
    build = prompt_builder(settings)
    samples = generate(20, seed=4)
    write_jsonl(samples, tmp_path / "data.jsonl.gz", prompt=build)
    write_jsonl(samples, tmp_path / "plain.jsonl")
    carried, plain = load_samples(tmp_path / "data.jsonl.gz"), load_samples(tmp_path / "plain.jsonl")
    assert [{k: v for k, v in c.items() if k != "prompt"} for c in carried] == plain
    assert prompts_of(carried, settings) == prompts_of(plain, settings) == [build(p) for p in plain]
    # A carried prompt is used as it is: the trainer does not make its own.
    assert prompts_of([{**carried[0], "prompt": "as given"}], settings) == ["as given"]


@pytest.mark.slow
@pytest.mark.llm
def test_a_run_stopped_midway_resumes_from_its_checkpoint_to_the_same_adapter(tmp_path) -> None:
    """A run killed after step 3 (an exception from its log, as Ctrl-C would) goes on from the
    checkpoint of step 2 with --resume and ends with the weights of a run never stopped."""
    from safetensors.torch import load_file

    from pippin.train import TrainSettings, train

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({**SAMPLE, "query": SAMPLE["query"] + f" ({i})"}) + "\n" for i in range(6)))

    def settings(out: str, resume: bool = False) -> TrainSettings:
        return TrainSettings(base="smollm2-135m", data=str(data), out=str(tmp_path / out), max_steps=6, batch_size=2,
                             lr=3e-3, rank=4, alpha=8, dropout=0.0, retrieval=False, prompt=short_prompt,
                             device="cpu", log_every=1, checkpoint_every=2, resume=resume, bf16="off")

    train(settings("whole"), log=lambda line: None)

    def stop_at_step_3(line: str) -> None:
        if line.startswith("step 3/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(settings("stopped"), log=stop_at_step_3)
    assert (tmp_path / "stopped" / "checkpoint.pt").exists() and not (tmp_path / "stopped" / "adapter.gguf").exists()
    lines: list[str] = []
    summary = train(settings("stopped", resume=True), log=lines.append)
    assert any(line.startswith("resumed at step 2/6") for line in lines), lines
    assert summary["steps"] == 6
    whole = load_file(tmp_path / "whole" / "peft" / "adapter_model.safetensors")
    resumed = load_file(tmp_path / "stopped" / "peft" / "adapter_model.safetensors")
    assert whole.keys() == resumed.keys()
    for key in whole:
        assert (whole[key] - resumed[key]).abs().max() < 1e-6, key


def test_resuming_with_other_settings_is_refused(tmp_path) -> None:
    import torch

    from pippin.train import TrainSettings, train

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(SAMPLE) + "\n")
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"fingerprint": {"lr": 1.0}}, out / "checkpoint.pt")
    with pytest.raises(ValueError, match="other settings or data"):
        train(TrainSettings(base="smollm2-135m", data=str(data), out=str(out), resume=True, max_steps=1,
                            retrieval=False, prompt=short_prompt, device="cpu"), log=lambda line: None)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(TrainSettings(base="smollm2-135m", data=str(data), out=str(tmp_path / "none"), resume=True,
                            max_steps=1, retrieval=False, prompt=short_prompt, device="cpu"), log=lambda line: None)


@pytest.mark.llm
def test_the_plan_loss_is_transformers_loss_with_logits_only_where_a_label_is() -> None:
    import torch

    from pippin.train import encode, load_base, plan_loss

    model, tokenizer = load_base("smollm2-135m", "cpu")
    rows = [encode(tokenizer, short_prompt(SAMPLE), SAMPLE["plan"], 512),
            encode(tokenizer, short_prompt({"query": "remind me to stretch"}), "1. join()", 512)]
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([x + [0] * (width - len(x)) for x, _ in rows])
    labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in rows])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in rows])
    with torch.no_grad():
        ours = plan_loss(model, ids, mask, labels)
        theirs = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert abs(float(ours) - float(theirs)) < 1e-4, (float(ours), float(theirs))


def test_a_run_can_start_from_an_adapter_gguf_and_gets_its_weights_back(tmp_path) -> None:
    """--init-adapter reads the llama.cpp adapter an earlier run exported (SmolLM2 is a llama
    model, so q/k rows are unpermuted too): a run that starts from it and learns nothing
    (lr 0) ends with the same weights, to the F16 the export writes."""
    from safetensors.torch import load_file

    from pippin.train import TrainSettings, train

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({**SAMPLE, "query": SAMPLE["query"] + f" ({i})"}) + "\n" for i in range(4)))

    def settings(out: str, **kw) -> TrainSettings:
        return TrainSettings(base="smollm2-135m", data=str(data), out=str(tmp_path / out), max_steps=2, batch_size=2,
                             rank=4, alpha=8, dropout=0.0, retrieval=False, prompt=short_prompt, device="cpu",
                             bf16="off", checkpoint_every=0, **kw)

    train(settings("first", lr=3e-3), log=lambda line: None)
    lines: list[str] = []
    summary = train(settings("second", lr=0.0, init_adapter=str(tmp_path / "first" / "adapter.gguf"),
                             samples_before=4), log=lines.append)
    assert any(line.startswith("started from the adapter") for line in lines), lines
    assert summary["samples_seen"] == 8
    first = load_file(tmp_path / "first" / "peft" / "adapter_model.safetensors")
    second = load_file(tmp_path / "second" / "peft" / "adapter_model.safetensors")
    assert first.keys() == second.keys() and first
    for key in first:
        scale = float(first[key].abs().max()) or 1.0
        assert float((first[key] - second[key]).abs().max()) <= 2e-3 * scale, key
        assert float(second[key].abs().max()) > 0, key
    # train.json tells the runs behind the adapter, oldest first, each with its adapter's SHA-256.
    first_summary = json.loads((tmp_path / "first" / "train.json").read_text())
    assert [run["adapter_sha256"] for run in summary["lineage"]] == [first_summary["adapter_sha256"],
                                                                     summary["adapter_sha256"]]
    assert summary["lineage"][0]["command"] == first_summary["command"] and "--init-adapter" not in summary[
        "lineage"][0]["command"]
    assert summary["lineage"][1]["samples_seen"] == 8


def test_a_train_json_that_describes_another_file_is_not_taken_for_the_adapters_lineage(tmp_path) -> None:
    from pippin.train import lineage_of

    adapter = tmp_path / "run" / "adapter.gguf"
    adapter.parent.mkdir()
    adapter.write_bytes(b"the adapter after a later run replaced it")
    lineage = [{"command": "pippin train --seed 1", "adapter_sha256": "0" * 64, "samples_seen": 320}]
    (adapter.parent / "train.json").write_text(json.dumps({"adapter_sha256": "0" * 64, "lineage": lineage}))
    told = lineage_of(str(adapter))
    assert len(told) == 1 and told[0]["adapter_sha256"] != "0" * 64 and "no train.json" in told[0]["note"]

    sha = hashlib.sha256(adapter.read_bytes()).hexdigest()
    (adapter.parent / "train.json").write_text(json.dumps({"adapter_sha256": sha, "lineage": lineage}))
    assert lineage_of(str(adapter)) == lineage
    (adapter.parent / "train.json").write_text(json.dumps({"adapter_sha256": sha, "command": "pippin train",
                                                           "samples_seen": 96, "data_sha256": "ab"}))
    assert lineage_of(str(adapter)) == [{"command": "pippin train", "data_sha256": "ab", "samples_seen": 96,
                                         "adapter_sha256": sha}]
    assert lineage_of("") == []


def write_adapter(path, tensors: dict, alpha: float) -> None:
    from pippin.train import write_lora_gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    write_lora_gguf(path, "qwen2", alpha, tensors.items())


def read_adapter(path) -> tuple[dict, float]:
    from pippin.train import read_lora_gguf

    _, alpha, tensors = read_lora_gguf(path)
    return tensors, alpha


def test_a_blend_changes_each_weight_by_the_weighted_sum_of_the_adapters_changes(tmp_path) -> None:
    import numpy as np

    from pippin.train import blend_lora_gguf

    rng = np.random.default_rng(0)
    names = ["blk.12.attn_q.weight", "blk.12.ffn_up.weight"]
    adapters = []
    for i in range(2):
        tensors = {}
        for name in names:
            tensors[f"{name}.lora_a"] = rng.normal(size=(4, 8)).astype(np.float16)
            tensors[f"{name}.lora_b"] = rng.normal(size=(6, 4)).astype(np.float16)
        write_adapter(tmp_path / f"{i}.gguf", tensors, alpha=8.0)
        adapters.append(tensors)
    summary = blend_lora_gguf([tmp_path / "0.gguf", tmp_path / "1.gguf"], [0.3, 0.7], tmp_path / "blend" / "a.gguf")
    assert summary["rank"] == 8 and summary["alpha"] == 16.0
    blended, alpha = read_adapter(tmp_path / "blend" / "a.gguf")

    def change(t: dict, name: str, alpha: float) -> np.ndarray:  # what llama.cpp adds to the weight
        a, b = t[f"{name}.lora_a"].astype(np.float32), t[f"{name}.lora_b"].astype(np.float32)
        return alpha / a.shape[0] * b @ a

    for name in names:
        want = 0.3 * change(adapters[0], name, 8.0) + 0.7 * change(adapters[1], name, 8.0)
        assert np.allclose(change(blended, name, alpha), want, atol=2e-2), name


def test_adapters_of_other_layers_or_scales_are_not_blended(tmp_path) -> None:
    import numpy as np

    from pippin.train import blend_lora_gguf

    a, b = np.ones((4, 8)), np.ones((6, 4))
    write_adapter(tmp_path / "base.gguf", {"blk.12.attn_q.weight.lora_a": a, "blk.12.attn_q.weight.lora_b": b}, 8.0)
    write_adapter(tmp_path / "layer.gguf", {"blk.0.attn_q.weight.lora_a": a, "blk.0.attn_q.weight.lora_b": b}, 8.0)
    write_adapter(tmp_path / "scale.gguf", {"blk.12.attn_q.weight.lora_a": a, "blk.12.attn_q.weight.lora_b": b}, 16.0)
    with pytest.raises(ValueError, match="other weights"):
        blend_lora_gguf([tmp_path / "base.gguf", tmp_path / "layer.gguf"], [0.5, 0.5], tmp_path / "out" / "a.gguf")
    with pytest.raises(ValueError, match="alpha / rank differ"):
        blend_lora_gguf([tmp_path / "base.gguf", tmp_path / "scale.gguf"], [0.5, 0.5], tmp_path / "out" / "a.gguf")


def test_a_blend_gets_a_folder_and_the_prompt_style_of_its_adapters(tmp_path) -> None:
    """The planner prompts an adapter the way its train.json says; a blend written without
    one was prompted with the full prompt, not the grounded one its adapters learned."""
    import numpy as np

    from pippin.train import blend_lora_gguf
    from shared.runtime import models

    tensors = {"blk.12.attn_q.weight.lora_a": np.ones((4, 8)), "blk.12.attn_q.weight.lora_b": np.ones((6, 4))}
    for name, style in (("one", "grounded"), ("two", "grounded"), ("short", "short")):
        write_adapter(tmp_path / name / "adapter.gguf", tensors, 8.0)
        (tmp_path / name / "train.json").write_text(json.dumps({"prompt_style": style}))
    one, two, short = (tmp_path / n / "adapter.gguf" for n in ("one", "two", "short"))

    out = tmp_path / "blend" / "adapter.gguf"
    summary = blend_lora_gguf([one, two], [0.5, 0.5], out)
    meta = json.loads((out.parent / "train.json").read_text())
    assert meta["prompt_style"] == "grounded" == models.adapter_prompt_style(out)
    assert meta["adapter_sha256"] == models.sha256_of(out) == summary["adapter_sha256"]
    assert [b["adapter_sha256"] for b in meta["blend_of"]] == [models.sha256_of(one), models.sha256_of(two)]
    with pytest.raises(ValueError, match="different prompts"):
        blend_lora_gguf([one, short], [0.5, 0.5], tmp_path / "mixed" / "adapter.gguf")
    with pytest.raises(ValueError, match="folder of its own"):
        blend_lora_gguf([one, two], [0.5, 0.5], tmp_path / "one" / "blend.gguf")
    assert json.loads((tmp_path / "one" / "train.json").read_text()) == {"prompt_style": "grounded"}
