"""The joiner's optional model step: after a plan ran, Finish or Replan (once).

LLMCompiler lets its joiner replan freely; a small model replanning on a whim would
repeat work and, worse, send a message twice. So:
- the model is asked only when something failed or was skipped (a plan that fully
  succeeded is finished without a model call);
- there is at most `max_replans` new plan (default one);
- a call of the new plan that is the same action (tool and resolved arguments) as a call
  of an earlier round is never run again: its earlier outcome stands (engine `reuse`).
  The scheduler enforces this, whatever the model writes.

The model is behind two callables, so this runs the same in one process (`ask --local`)
and in the scheduler stage (which asks the planner stage over the bus)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from services.scheduler.engine import Policy, RequestResult, Scheduler
from shared.outcome import Outcome
from shared.plan import Call, call_key

Action = Literal["finish", "replan"]
# (request text, observations) -> "finish" | "replan"
DecideFn = Callable[[str, str], Awaitable[Action]]
# (round request id, observations of the previous round) -> the calls of a new plan
ReplanFn = Callable[[str, str], AsyncIterable[Call]]


def observations(result: RequestResult) -> str:
    """The finished plan with what each call gave, as the model reads it."""
    lines = []
    for c in result.calls:
        args = ", ".join(json.dumps(a, ensure_ascii=False) for a in c.args)
        if c.state == "done":
            outcome = f"ok: {c.value}"
        elif c.state == "failed":
            outcome = f"FAILED: {c.error}"
        else:
            outcome = f"not run: {c.error}"
        lines.append(f"{c.idx}. {c.tool}({args}) -> {outcome}"[:600])
    lines.extend(f"plan problem: {e}" for e in result.plan_errors)
    return "\n".join(lines)


def needs_review(result: RequestResult) -> bool:
    """Worth asking the model: something failed, was skipped or the plan was broken (and
    the user did not cancel the request)."""
    return not result.cancelled and (bool(result.plan_errors) or any(c.state != "done" for c in result.calls))


def outcomes_of(results: list[RequestResult]) -> dict[str, Outcome]:
    """Every call that was attempted in these rounds, by call_key, with its outcome."""
    table: dict[str, Outcome] = {}
    for result in results:
        for c in result.calls:
            if c.state == "done":
                table[call_key(c.tool, c.args)] = Outcome(True, c.value or "")
            elif c.state == "failed":
                # An identical call would fail the same way; and one whose fate is unknown
                # (started before a crash) must never be tried again under a new key.
                table[call_key(c.tool, c.args)] = Outcome(False, c.error or "failed")
    return table


@dataclass
class Round:
    request_id: str
    result: RequestResult
    decision: Action | None = None  # what the model decided after this round, if it was asked


def round_id(request_id: str, n: int) -> str:
    """Each round has its own request id, so its calls have their own ledger keys."""
    return request_id if n == 0 else f"{request_id}~r{n}"


def origin_id(round_request_id: str) -> str:
    """The user's request id of a round's id."""
    return round_request_id.split("~r", 1)[0]


async def run_rounds(engine: Scheduler, request_id: str, query: str, first: AsyncIterable[Call], *,
                     policy: Policy | None = None, decide: DecideFn | None = None,
                     replan: ReplanFn | None = None, max_replans: int = 1,
                     known: Mapping[str, Outcome] | None = None) -> list[Round]:
    """Run the first plan, then, while the model says Replan (at most max_replans times),
    a new plan that reuses what already ran. Without `decide`, just the first plan.
    `known`: outcomes of calls done before the first plan (lookups run early), by call_key()."""
    rounds = [Round(request_id, await engine.run(request_id, first, policy=policy, reuse=dict(known or {})))]
    while decide and replan and len(rounds) <= max_replans and needs_review(rounds[-1].result):
        last = rounds[-1]
        last.decision = await decide(query, observations(last.result))
        if last.decision != "replan":
            break
        rid = round_id(request_id, len(rounds))
        calls = replan(rid, observations(last.result))
        reuse = outcomes_of([r.result for r in rounds])
        rounds.append(Round(rid, await engine.run(rid, calls, policy=policy, reuse=reuse)))
    return rounds


def replan_note(rounds: list[Round]) -> str:
    """A line for the answer when a new plan was made."""
    if len(rounds) < 2:
        return ""
    first = rounds[0].result
    failed = [c for c in first.calls if c.state != "done"]
    what = ", ".join(f"{c.tool} ({c.error})" for c in failed[:3]) or "; ".join(first.plan_errors[:2])
    return f"(The first plan fell short: {what}. I made a new plan.)"
