"""The adapter merged into the base's weights (shared.runtime.adapter_merge): each adapted
tensor becomes W + (alpha/rank)·B·A at Q8_0, every other tensor is the base's to the byte,
and an adapter that does not fit its base is refused with a reason, the planner then
applying it at run time. (That merged and run-time planners write the same plan is checked
on a trained adapter in tests/test_train.py.)"""

import logging

import numpy as np
import pytest

ADAPTED = "blk.0.attn_q.weight"


def random_adapter(path, shape: tuple[int, int], name: str = ADAPTED, rank: int = 4, alpha: float = 8.0):
    from pippin.train import write_lora_gguf

    rng = np.random.default_rng(0)
    out_features, in_features = shape
    a = rng.normal(scale=0.2, size=(rank, in_features)).astype(np.float32)
    b = rng.normal(scale=0.2, size=(out_features, rank)).astype(np.float32)
    write_lora_gguf(path, "llama", alpha, [(f"{name}.lora_a", a), (f"{name}.lora_b", b)])
    # What llama.cpp adds, from the adapter as written (F16).
    return (alpha / rank) * (b.astype(np.float16).astype(np.float32) @ a.astype(np.float16).astype(np.float32))


@pytest.mark.llm
def test_a_merged_tensor_is_the_base_plus_the_adapters_delta_and_the_rest_is_untouched(tmp_path) -> None:
    import gguf
    from gguf.quants import dequantize

    from shared.runtime import adapter_merge, models

    base_path = models.path_of("smollm2-135m")
    base = {t.name: t for t in gguf.GGUFReader(base_path).tensors}
    weight = dequantize(base[ADAPTED].data, base[ADAPTED].tensor_type)
    delta = random_adapter(tmp_path / "adapter.gguf", weight.shape)
    assert adapter_merge.merge_adapter(base_path, tmp_path / "adapter.gguf", tmp_path / "merged.gguf") == 1

    merged = {t.name: t for t in gguf.GGUFReader(tmp_path / "merged.gguf").tensors}
    assert merged.keys() == base.keys()
    assert merged[ADAPTED].tensor_type == gguf.GGMLQuantizationType.Q8_0
    got = dequantize(merged[ADAPTED].data, merged[ADAPTED].tensor_type)
    # Q8_0 rounds each block of 32 values to the nearest 1/127 of the block's largest.
    target = weight + delta
    blocks = target.reshape(target.shape[0], -1, 32)
    step = np.repeat(np.abs(blocks).max(axis=2) / 127, 32, axis=1)
    assert (np.abs(got - target) <= 0.6 * step).all()
    assert np.abs(got - target).mean() < np.abs(delta).mean() / 10  # the delta is in, not rounded away
    for name, t in base.items():
        if name != ADAPTED:
            assert merged[name].tensor_type == t.tensor_type and np.array_equal(merged[name].data, t.data), name


def test_an_adapter_for_another_model_is_refused_with_the_reason(tmp_path) -> None:
    from shared.runtime import adapter_merge, models

    random_adapter(tmp_path / "adapter.gguf", (8, 8), name="blk.99.attn_q.weight")
    with pytest.raises(adapter_merge.MergeError, match="blk.99.attn_q.weight.*another base model"):
        adapter_merge.merge_adapter(models.path_of("smollm2-135m"), tmp_path / "adapter.gguf", tmp_path / "m.gguf")


@pytest.mark.llm
def test_a_planner_that_cannot_merge_applies_the_adapter_at_run_time_and_says_so(tmp_path, monkeypatch,
                                                                                caplog) -> None:
    from services.planner.base import PlanRequest
    from services.planner.llm import LlmPlanner, PlannerSettings
    from shared.runtime import adapter_merge, models

    adapter = tmp_path / "adapter.gguf"
    random_adapter(adapter, (576, 576))
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(adapter_merge, "MERGED_DIR", tmp_path / "file" / "merged")  # a cache that cannot be made
    with caplog.at_level(logging.WARNING, logger="services.planner.llm"):
        planner = LlmPlanner(PlannerSettings(model="smollm2-135m", lora_path=str(adapter), prompt_style="full",
                                             max_tokens=40))
    assert planner.model_path == models.path_of("smollm2-135m")
    assert any("applying it at run time" in r.getMessage() for r in caplog.records), caplog.records
    assert "".join(planner.stream(PlanRequest("text Bo hi", "2027-02-02 10:00:00"))).strip()
