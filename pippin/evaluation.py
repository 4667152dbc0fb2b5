"""`pippin eval`: how good is a planner? Scores as defined in tests/shared/eval/README.md.

- graph success: the generated call graph (nodes labelled by tool, an edge K -> N when
  call N uses $K) is isomorphic to the reference's, as in the TinyAgent paper;
- effect success: both plans run on fresh simulated Macs, and the structured effects
  (recipients, times, lists, folders, attachments, places) are equal as multisets;
- parse failures: plans that do not parse or validate;
- tool recall: the share of the reference's tools that the generated plan uses;
- wrong fields: where effects differ, each of the plan's effects paired with the reference's
  of the same kind that it most resembles, and the fields that differ named (`event.end`);
  the grounded ones (times, durations, calendars, lists, folders, all-day) counted apart."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from services.executor.common import ToolError
from services.executor.simmac import SimulatedMac
from services.planner.base import Planner, PlanRequest
from shared.cases import Case
from shared.plan import Call, resolve_refs
from shared.validate import validate_plan


def call_graph(calls: Iterable[Call]) -> nx.DiGraph:
    g = nx.DiGraph()
    for c in calls:
        if c.is_join:
            continue
        g.add_node(c.idx, tool=c.tool)
        for k in c.deps():
            g.add_edge(k, c.idx)
    return g


def same_graph(a: Iterable[Call], b: Iterable[Call]) -> bool:
    ga, gb = call_graph(a), call_graph(b)
    return nx.is_isomorphic(ga, gb, node_match=lambda x, y: x.get("tool") == y.get("tool"))


def run_on_fresh_mac(calls: list[Call], world: Path | dict[str, Any]) -> tuple[Counter[str], list[str]]:
    """Run a plan in order on a fresh simulated Mac; (structured effects, errors).
    A call whose input failed is skipped, as the scheduler does."""
    mac = SimulatedMac(":memory:", world)
    results: dict[int, str] = {}
    errors: list[str] = []
    for c in calls:
        if c.is_join:
            break
        if any(k not in results for k in c.deps()):
            errors.append(f"call {c.idx} skipped: an input failed")
            continue
        try:
            args = tuple(resolve_refs(a, results) for a in c.args)
            results[c.idx] = mac.call(c.tool, args)
        except ToolError as e:
            errors.append(f"call {c.idx} ({c.tool}): {e}")
    effects = Counter(json.dumps([e.kind, e.structured], sort_keys=True) for e in mac.effects())
    mac.close()
    return effects, errors


# The fields grounding decides (issue 22's bar: wrong in at most 3% of plans).
GROUNDED_FIELDS = frozenset({
    "event.start", "event.end", "event.calendar", "reminder.due", "reminder.all_day", "reminder.list",
    "zoom.start", "zoom.duration", "note_create.folder",
})


def wrong_fields(want: Counter[str], got: Counter[str]) -> list[str]:
    """The fields that differ between two runs' effects (as `run_on_fresh_mac` counts them):
    every effect only one side has is paired with the other side's effect of the same kind
    that shares the most field values, and each differing field named `kind.field`.
    Effects left without a partner (a call missing or extra) name no field."""
    only_want = [json.loads(e) for e in (want - got).elements()]
    only_got = [json.loads(e) for e in (got - want).elements()]
    out: list[str] = []
    for kind, fields in only_got:
        same_kind = [w for w in only_want if w[0] == kind]
        if not same_kind:
            continue
        best = max(same_kind, key=lambda w: sum(w[1].get(k) == v for k, v in fields.items()))
        only_want.remove(best)
        out += sorted(f"{kind}.{k}" for k in fields.keys() | best[1].keys() if fields.get(k) != best[1].get(k))
    return out


def world_at(world: Path, now: str | None) -> dict[str, Any]:
    w = json.loads(Path(world).read_text(encoding="utf-8"))
    if now:
        w["now"] = now
    return w


@dataclass
class CaseResult:
    id: str
    query: str
    tags: tuple[str, ...]
    plan: str
    parse_ok: bool
    graph_ok: bool
    effect_ok: bool
    tool_recall: float | None  # None for declines (no reference tools)
    seconds: float
    errors: list[str] = field(default_factory=list)
    exec_errors: list[str] = field(default_factory=list)
    prompt_tokens: int | None = None  # what the LLM planner's prompt came to
    retrieval_ms: float | None = None
    wrong_fields: list[str] = field(default_factory=list)  # see wrong_fields()
    repeats_dropped: int = 0  # calls the planner dropped as repeats of earlier ones


# A request's text -> (tools, examples) for the planner: tool retrieval, when evaluated with it.
RetrieveFn = Callable[[str], tuple[tuple[str, ...], tuple[Any, ...], float]]


def evaluate_case(planner: Planner, case: Case, world: Path, retrieve: RetrieveFn | None = None) -> CaseResult:
    w = world_at(world, case.now)
    tools, examples, retrieval_s = retrieve(case.query) if retrieve else ((), (), None)
    request = PlanRequest(case.query, w.get("now", ""), tools, examples)
    t0 = time.perf_counter()
    try:
        text = "".join(planner.stream(request))
        planner_error = None
    except Exception as e:
        text, planner_error = "", f"planner failed: {type(e).__name__}: {e}"
    seconds = time.perf_counter() - t0
    ref = validate_plan(case.plan)
    if not ref.ok:
        raise ValueError(f"case {case.id}: the reference plan is invalid: {ref.errors[0]}")
    gen = validate_plan(text)
    errors = [planner_error] if planner_error else [str(e) for e in gen.errors]
    ref_tools = {c.tool for c in ref.calls if not c.is_join}
    gen_tools = {c.tool for c in gen.calls if not c.is_join}
    recall = len(ref_tools & gen_tools) / len(ref_tools) if ref_tools else None
    graph_ok = effect_ok = False
    exec_errors: list[str] = []
    fields: list[str] = []
    if gen.ok and not planner_error:
        graph_ok = same_graph(gen.calls, ref.calls)
        want, _ = run_on_fresh_mac(ref.calls, w)
        got, exec_errors = run_on_fresh_mac(gen.calls, w)
        effect_ok = want == got
        fields = [] if effect_ok else wrong_fields(want, got)
    stats = getattr(planner, "last", None)
    return CaseResult(case.id, case.query, case.tags, text, gen.ok and not planner_error,
                      graph_ok, effect_ok, recall, seconds, errors, exec_errors,
                      getattr(stats, "prompt_tokens", None),
                      round(retrieval_s * 1000, 2) if retrieval_s is not None else None, fields,
                      getattr(stats, "repeats_dropped", 0))


def _share(xs: list[bool]) -> float:
    return round(sum(xs) / len(xs), 4) if xs else 0.0


def summarize(results: list[CaseResult], planner_name: str) -> dict[str, Any]:
    secs = sorted(r.seconds for r in results)
    recalls = [r.tool_recall for r in results if r.tool_recall is not None]
    by_tag: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        for t in r.tags:
            by_tag[t].append(r)
    return {
        "planner": planner_name,
        "n": len(results),
        "graph_success": _share([r.graph_ok for r in results]),
        "effect_success": _share([r.effect_ok for r in results]),
        "parse_failures": _share([not r.parse_ok for r in results]),
        "tool_recall": round(statistics.fmean(recalls), 4) if recalls else None,
        "seconds_median": round(statistics.median(secs), 4) if secs else None,
        "seconds_p90": round(secs[min(len(secs) - 1, int(0.9 * len(secs)))], 4) if secs else None,
        "prompt_tokens_mean": round(statistics.fmean(tokens), 1) if (tokens := [
            r.prompt_tokens for r in results if r.prompt_tokens is not None]) else None,
        "fields_wrong": dict(Counter(f for r in results for f in r.wrong_fields).most_common()),
        "plans_with_repeats_dropped": _share([r.repeats_dropped > 0 for r in results]),
        "plans_with_grounded_fields_wrong": _share([bool(GROUNDED_FIELDS.intersection(r.wrong_fields))
                                                    for r in results]),
        "by_tag": {
            t: {"n": len(rs), "graph_success": _share([r.graph_ok for r in rs]),
                "effect_success": _share([r.effect_ok for r in rs])}
            for t, rs in sorted(by_tag.items())
        },
    }


def evaluate(planner: Planner, cases: list[Case], world: Path, progress: Any = None,
             retrieve: RetrieveFn | None = None) -> tuple[dict[str, Any], list[CaseResult]]:
    results = []
    for case in cases:
        r = evaluate_case(planner, case, world, retrieve)
        results.append(r)
        if progress:
            progress(r)
    return summarize(results, planner.name), results


def report_table(summary: dict[str, Any]) -> str:
    lines = [
        f"planner {summary['planner']}: {summary['n']} cases",
        f"  graph success   {summary['graph_success']:.1%}",
        f"  effect success  {summary['effect_success']:.1%}",
        f"  parse failures  {summary['parse_failures']:.1%}",
        f"  tool recall     {summary['tool_recall']:.1%}" if summary["tool_recall"] is not None
        else "  tool recall     n/a",
        f"  seconds/plan    median {summary['seconds_median']}, p90 {summary['seconds_p90']}",
        f"  prompt tokens   mean {summary['prompt_tokens_mean']}",
        f"  repeated calls  dropped in {summary['plans_with_repeats_dropped']:.1%} of plans",
        f"  grounded fields wrong in {summary['plans_with_grounded_fields_wrong']:.1%} of plans; "
        f"fields wrong: {', '.join(f'{k} {n}' for k, n in summary['fields_wrong'].items()) or 'none'}",
        "  by tag:",
    ]
    for tag, s in summary["by_tag"].items():
        lines.append(f"    {tag:<10} n={s['n']:<4} graph {s['graph_success']:.0%}  "
                     f"effect {s['effect_success']:.0%}")
    return "\n".join(lines)


def result_row(r: CaseResult) -> dict[str, Any]:
    return asdict(r)
