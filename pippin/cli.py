"""The `pippin` command. Each subcommand is a thin shell over a library function."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from shared import paths

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _COMMANDS[name] = fn
        return fn

    return register


def _make_planner(name: str, args: argparse.Namespace, cases: Sequence[object] = ()) -> object:
    if name == "reference":
        from services.planner.reference import ReferencePlanner

        if not cases:
            cases_path = getattr(args, "cases", None) or paths.dev_cases()
            from pippin.evaluation import load_cases

            cases = load_cases(cases_path)
        return ReferencePlanner.from_cases(cases)
    if name == "llm":
        from services.planner.llm import LlmPlanner, PlannerSettings

        return LlmPlanner(PlannerSettings.from_args(args))
    raise SystemExit(f"pippin: unknown planner {name!r} (choose reference or llm)")


@command("eval")
def cmd_eval(args: argparse.Namespace) -> int:
    from pippin.evaluation import evaluate, load_cases, report_table, result_row

    cases = load_cases(args.cases)
    if args.limit:
        cases = cases[: args.limit]
    planner = _make_planner(args.planner, args, cases)

    def progress(r: object) -> None:
        if not args.json:
            mark = "ok " if r.graph_ok and r.effect_ok else ("g  " if r.graph_ok else "x  ")  # type: ignore[attr-defined]
            print(f"  {mark}{r.id}  {r.seconds:5.2f}s  {r.query[:70]}", file=sys.stderr)  # type: ignore[attr-defined]

    summary, results = evaluate(planner, cases, Path(args.world), progress)  # type: ignore[arg-type]
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"summary": summary, "cases": [result_row(r) for r in results]}, f, indent=1)
    print(json.dumps(summary) if args.json else report_table(summary))
    return 0


@command("demo")
def cmd_demo(args: argparse.Namespace) -> int:
    """Pippin's main job on the simulated Mac. Until the LLM planner is wired in, the demo
    replays hand-written plans for its requests, and says so."""
    from pippin.demo_requests import DEMO
    from pippin.evaluation import run_on_fresh_mac, world_at
    from shared.plan import parse_plan

    world = world_at(paths.default_world(), None)
    print(f"Pippin demo on the simulated Mac (world: {paths.default_world()}, now {world['now']}).")
    print("Planner: replaying hand-written reference plans (the LLM planner is not wired in yet).\n")
    for query, plan in DEMO:
        print(f"> {query}")
        print("  " + plan.replace("\n", "\n  "))
        effects, errors = run_on_fresh_mac(parse_plan(plan), world)
        for e in sorted(effects):
            print(f"  effect: {e}")
        for err in errors:
            print(f"  error: {err}")
        print()
    return 0


@command("tools")
def cmd_tools(args: argparse.Namespace) -> int:
    from shared.catalog import catalog_markdown

    print(catalog_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pippin", description="A private assistant for your Mac.")
    sub = p.add_subparsers(dest="cmd", required=True)

    e = sub.add_parser("eval", help="score a planner on a case file")
    e.add_argument("cases", help="a .jsonl case file, e.g. ../shared/eval/dev.jsonl")
    e.add_argument("--planner", default="reference", help="reference | llm")
    e.add_argument("--limit", type=int, default=0, help="only the first N cases")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--out", help="write per-case results as JSON here")
    e.add_argument("--world", default=str(paths.default_world()))
    _planner_options(e)

    sub.add_parser("tools", help="list the 16 tools")
    sub.add_parser("demo", help="run Pippin on the simulated Mac with a few requests")
    return p


def _planner_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a GGUF file, or a packaged model name (qwen-0.5b, qwen-1.5b, "
                   "smollm2-135m)")
    p.add_argument("--no-grammar", action="store_true", help="decode without the plan grammar")
    p.add_argument("--template", help="prompt template: chatml or alpaca")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _COMMANDS[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
