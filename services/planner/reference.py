"""The `reference` planner: replays the reference plans of a case file. It scores 100%
by construction and exists to check the harness, the executors and the demo."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from services.planner.base import PlanRequest


class UnknownQuery(KeyError):
    pass


class ReferencePlanner:
    name = "reference"

    def __init__(self, plans_by_query: dict[str, str], line_delay_s: float = 0.0) -> None:
        self._plans = plans_by_query
        # Stands in for a model's writing time, so tests can act while a plan streams.
        self.line_delay_s = line_delay_s

    @classmethod
    def from_cases(cls, cases: Iterable[object], line_delay_s: float = 0.0) -> ReferencePlanner:
        return cls({c.query: c.plan for c in cases}, line_delay_s)  # type: ignore[attr-defined]

    def stream(self, request: PlanRequest) -> Iterator[str]:
        try:
            plan = self._plans[request.query]
        except KeyError:
            raise UnknownQuery(f"the reference planner has no plan for {request.query!r}") from None
        for line in plan.split("\n"):
            if self.line_delay_s:
                time.sleep(self.line_delay_s)
            yield line + "\n"
