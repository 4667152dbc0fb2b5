"""The `reference` planner: replays the reference plans of a case file. It scores 100%
by construction and exists to check the harness, the executors and the demo."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from services.planner.base import PlanRequest


class UnknownQuery(KeyError):
    pass


class ReferencePlanner:
    name = "reference"

    def __init__(self, plans_by_query: dict[str, str]) -> None:
        self._plans = plans_by_query

    @classmethod
    def from_cases(cls, cases: Iterable[object]) -> ReferencePlanner:
        return cls({c.query: c.plan for c in cases})  # type: ignore[attr-defined]

    def stream(self, request: PlanRequest) -> Iterator[str]:
        try:
            plan = self._plans[request.query]
        except KeyError:
            raise UnknownQuery(f"the reference planner has no plan for {request.query!r}") from None
        for line in plan.split("\n"):
            yield line + "\n"
