"""The `pippin` command. Each subcommand is a thin shell over a library function."""

from __future__ import annotations

import argparse
import json
import sys
import time
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
    """Pippin's main job on the simulated Mac: start the pipeline, send a few requests,
    print plans, results and timings, stop it."""
    import asyncio
    import os

    from pippin.client import PipelineClient, down, print_result, up
    from pippin.demo_requests import DEMO
    from shared import config as config_mod

    run_dir = paths.RUN_DIR / "demo"
    for state in ("simmac.sqlite", "ledger.sqlite"):  # a fresh simulated Mac each time
        for suffix in ("", "-wal", "-shm"):
            (run_dir / (state + suffix)).unlink(missing_ok=True)
    config = config_mod.load(None, run_dir)
    if args.planner == "reference":  # replay the demo's own plans (fast; for tests)
        run_dir.mkdir(parents=True, exist_ok=True)
        cases = run_dir / "demo_cases.jsonl"
        cases.write_text("".join(json.dumps({"id": f"demo{i}", "query": q, "plan": p}) + "\n"
                                 for i, (q, p) in enumerate(DEMO)))
        override = run_dir / "pippin.toml"
        override.write_text(config.source.read_text().replace('kind = "llm"', 'kind = "reference"')  # type: ignore[union-attr]
                            .replace('cases = ""', f'cases = "{cases}"'))
        config = config_mod.load(override, run_dir)
    os.environ["PIPPIN_RUN"] = str(run_dir)
    if config.source:
        os.environ["PIPPIN_CONFIG"] = str(config.source)
    world = json.loads(paths.default_world().read_text())
    print(f"Pippin demo: the pipeline on a simulated Mac ({paths.default_world()}, it is {world['now']}).")
    print(f"Planner: {config.planner.get('kind')} {config.planner.get('model', '')}; "
          f"outgoing messages are left as drafts. Starting the stages (first start loads the model)...")
    t0 = time.perf_counter()
    up(config, timeout_s=900)
    print(f"All stages ready in {time.perf_counter() - t0:.1f}s.\n")

    async def ask_all() -> None:
        client = PipelineClient(config)
        try:
            for query, _plan in DEMO:
                print(f"> {query}")
                t = time.perf_counter()
                result = await client.ask(query, timeout_s=600)
                print_result(result)
                print(f"(round trip {time.perf_counter() - t:.2f}s)\n")
        finally:
            client.close()

    try:
        asyncio.run(ask_all())
    finally:
        down(config)
    print(f"Effects on the simulated Mac are in {run_dir / 'simmac.sqlite'} (table effects).")
    return 0


def _now(args: argparse.Namespace) -> str:
    if getattr(args, "now", None):
        return args.now
    import json as _json

    return _json.loads(paths.default_world().read_text())["now"]


@command("plan")
def cmd_plan(args: argparse.Namespace) -> int:
    from services.planner.base import PlanRequest
    from shared.plan import Call, StreamingPlanParser
    from shared.validate import validate_plan

    planner = _make_planner(args.planner, args)
    request = PlanRequest(args.text, _now(args))
    parser = StreamingPlanParser()
    t0 = time.perf_counter()
    calls: list[dict[str, object]] = []
    chunks: list[str] = []
    for chunk in planner.stream(request):  # type: ignore[attr-defined]
        chunks.append(chunk)
        for item in parser.feed(chunk):
            if isinstance(item, Call):
                calls.append({"idx": item.idx, "tool": item.tool, "args": list(item.args),
                              "at_s": round(time.perf_counter() - t0, 4)})
                if not args.json:
                    print(f"{item.render()}    [{time.perf_counter() - t0:.2f}s]", flush=True)
    total = time.perf_counter() - t0
    text = "".join(chunks)
    errors = [str(e) for e in validate_plan(text).errors]
    stats = getattr(planner, "last", None)
    if args.json:
        print(json.dumps({"query": args.text, "now": request.now, "plan": text, "calls": calls,
                          "errors": errors, "seconds": round(total, 4),
                          "stats": stats.__dict__ if stats else None}))
    else:
        for e in errors:
            print(f"invalid: {e}")
        print(f"({total:.2f}s)")
    return 0 if not errors else 1


@command("ask")
def cmd_ask(args: argparse.Namespace) -> int:
    if not args.local:
        from pippin.client import ask_pipeline

        return ask_pipeline(args)
    import asyncio

    from pippin.client import ask_terminal
    from pippin.local import run_request
    from services.executor.ledger import Executor, Ledger
    from services.executor.simmac import SimulatedMac
    from services.scheduler.engine import Policy, SchedulerSettings
    from shared.catalog import confirmation_question
    from shared.plan import Call

    planner = _make_planner(args.planner, args)
    mac = SimulatedMac(args.mac_db or ":memory:", paths.default_world())

    async def ask_user(rid: str, call: Call, call_args: tuple[object, ...]) -> bool:
        return await ask_terminal(confirmation_question(call.tool, call_args))

    run = asyncio.run(run_request(planner, Executor(mac, Ledger()), args.text, _now(args),  # type: ignore[arg-type]
                                  settings=SchedulerSettings(policy=Policy(args.policy)), confirm=ask_user,
                                  llm_joiner=args.joiner == "llm"))
    if args.json:
        print(json.dumps(run.to_json()))
        return 0
    data = run.to_json()
    print(f"plan ({data['seconds']['plan']:.2f}s):")
    for c in data["calls"]:
        timing = f"[{c['start_s']:.2f}s -> {c['end_s']:.2f}s]" if c["start_s"] is not None else ""
        outcome = c["result"] if c["state"] == "done" else f"{c['state'].upper()}: {c['error']}"
        print(f"  {c['idx']}. {c['tool']}{tuple(c['args'])} {timing}\n       -> {outcome}")
    print(f"\n{run.answer}\n({data['seconds']['total']:.2f}s)")
    return 0


@command("up")
def cmd_up(args: argparse.Namespace) -> int:
    from pippin.client import status_table, up
    from shared import config as config_mod
    from shared.bus import StageError

    config = config_mod.load()
    try:
        up(config, timeout_s=args.timeout)
    except StageError as e:
        print(f"pippin: {e}\n{status_table(config)}", file=sys.stderr)
        return 1
    print(status_table(config))
    return 0


@command("down")
def cmd_down(args: argparse.Namespace) -> int:
    from pippin.client import down
    from shared import config as config_mod

    down(config_mod.load())
    return 0


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    from pippin.client import status_table
    from shared import config as config_mod

    print(status_table(config_mod.load()))
    return 0


@command("keys")
def cmd_keys(args: argparse.Namespace) -> int:
    from shared import config as config_mod
    from shared.bus import ensure_keys

    config = config_mod.load()
    ensure_keys(config.keys_dir)
    print(f"CurveZMQ keys in {config.keys_dir} (copy them to the other Macs' keys folder)")
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

    pl = sub.add_parser("plan", help="print the plan for a request, call by call as it streams")
    pl.add_argument("text")
    pl.add_argument("--planner", default="llm")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--now", help="the request's moment, YYYY-MM-DD HH:MM:SS (default: the world's)")
    _planner_options(pl)

    a = sub.add_parser("ask", help="plan and run a request (--local: in this process, on the simulated Mac)")
    a.add_argument("text")
    a.add_argument("--local", action="store_true", help="no daemons: plan and execute in-process")
    a.add_argument("--planner", default="llm")
    a.add_argument("--json", action="store_true")
    a.add_argument("--now")
    a.add_argument("--policy", default="draft", choices=["draft", "confirm", "auto"])
    a.add_argument("--mac-db", help="SQLite file of the simulated Mac (default: a fresh one in memory)")
    a.add_argument("--joiner", default="rules", choices=["rules", "llm"],
                   help="--local: llm lets the model replan once when a call fails (the pipeline: [scheduler] joiner)")
    _planner_options(a)

    u = sub.add_parser("up", help="start the pipeline under supervisord and wait until every stage is ready")
    u.add_argument("--timeout", type=float, default=600)
    sub.add_parser("down", help="stop the pipeline")
    sub.add_parser("status", help="each stage: process, ready, heartbeat age, requests served, last error")
    sub.add_parser("keys", help="make the CurveZMQ key pairs")
    sub.add_parser("tools", help="list the 16 tools")
    d = sub.add_parser("demo", help="run the pipeline on the simulated Mac with a few requests")
    d.add_argument("--planner", default="llm", choices=["llm", "reference"])
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
