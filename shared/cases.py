"""Requests with reference plans: the evaluation's cases (the format of
tests/shared/eval/README.md) and the planner's in-context examples."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Case:
    id: str
    query: str
    plan: str
    tags: tuple[str, ...] = ()
    now: str | None = None


def load_cases(path: str | Path) -> list[Case]:
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            cases.append(Case(d["id"], d["query"], d["plan"], tuple(d.get("tags", ())), d.get("now")))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{n}: not a case ({e})") from None
    return cases


EXAMPLE_NOW = "2026-03-10 14:00:00"


@dataclass(frozen=True)
class Example:
    query: str
    plan: str
    now: str = EXAMPLE_NOW  # the moment it was asked, shown with it in the prompt

    def to_json(self) -> dict[str, str]:
        return {"query": self.query, "plan": self.plan, "now": self.now}

    @classmethod
    def from_json(cls, d: dict[str, str]) -> Example:
        return cls(d["query"], d["plan"], d.get("now") or EXAMPLE_NOW)

    def tools(self) -> frozenset[str]:
        from shared.plan import parse_plan

        return frozenset(c.tool for c in parse_plan(self.plan) if not c.is_join)
