"""What every planner offers: a request in, plan text out, streamed as it is written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PlanRequest:
    query: str
    now: str  # "YYYY-MM-DD HH:MM:SS", what relative dates resolve against
    # Tool and example subsets chosen by retrieval; empty means "all tools, default examples".
    tools: tuple[str, ...] = ()
    examples: tuple[str, ...] = field(default=())


class Planner(Protocol):
    name: str

    def stream(self, request: PlanRequest) -> Iterator[str]:
        """Yields the plan text in chunks (tokens, or lines) as soon as they exist."""
        ...
