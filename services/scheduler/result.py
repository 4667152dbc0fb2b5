"""One result schema for a request, whoever ran it: the scheduler stage (`pippin ask`), the
one-process runner (`pippin ask --local`) and each turn of `pippin listen`.

    request_id, query, plan (the one the calls come from), planner_error, plan_errors, answer,
    calls: [{idx, tool, args, state, result, error, start_s, end_s, reused}],
    seconds: {plan, first_call_parsed, total}   (from the start of the request),
    replan: null, or {first_plan, decisions, first_results} when the joiner replanned"""

from __future__ import annotations

from typing import Any

from services.scheduler.engine import CallReport, RequestResult
from services.scheduler.joiner import answer
from services.scheduler.replan import Round, observations, replan_note


def call_json(c: CallReport, t0: float) -> dict[str, Any]:
    return {"idx": c.idx, "tool": c.tool, "args": list(c.args), "state": c.state, "result": c.value,
            "error": c.error, "start_s": round(c.started - t0, 4) if c.started else None,
            "end_s": round(c.finished - t0, 4) if c.finished else None, "reused": c.reused}


def _since(t: float | None, t0: float) -> float | None:
    return round(t - t0, 4) if t is not None else None


def result_json(request_id: str, query: str, plan_texts: list[str], rounds: list[Round], *,
                t_plan_done: float | None = None, t_first_call: float | None = None,
                planner_error: str | None = None) -> dict[str, Any]:
    """`plan_texts`: the plan of each round; the times are on the clock of the results'
    t_begin/t_end (time.perf_counter in the engine)."""
    first, result = rounds[0].result, rounds[-1].result
    t0 = first.t_begin
    return {
        "request_id": request_id,
        "query": query,
        "plan": plan_texts[-1] if plan_texts else "",
        "planner_error": planner_error,
        "plan_errors": result.plan_errors,
        "answer": "\n".join(filter(None, [answer(result), replan_note(rounds)])),
        "calls": [call_json(c, t0) for c in result.calls],
        "seconds": {"plan": _since(t_plan_done, t0), "first_call_parsed": _since(t_first_call, t0),
                    "total": round(result.t_end - t0, 4)},
        "replan": ({"first_plan": plan_texts[0], "decisions": [r.decision for r in rounds],
                    "first_results": observations(first)} if len(rounds) > 1 else None),
    }


def single_result_json(request_id: str, query: str, plan_text: str, result: RequestResult,
                       **times: Any) -> dict[str, Any]:
    """A request run once, without the joiner's rounds (each turn of `pippin listen`)."""
    return result_json(request_id, query, [plan_text], [Round(request_id, result)], **times)
