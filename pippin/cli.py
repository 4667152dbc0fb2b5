"""The `pippin` command. Each subcommand is a thin shell over a library function."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shared import config as config_mod
from shared import paths

if TYPE_CHECKING:  # the planners load models; the CLI imports them only when a command needs one
    from pippin.evaluation import CaseResult
    from services.planner.base import Planner
    from shared.cases import Case

NOW_HELP = "the request's moment, YYYY-MM-DD HH:MM[:SS] (default: the simulated Mac's)"
Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _COMMANDS[name] = fn
        return fn

    return register


def _make_planner(name: str, args: argparse.Namespace, cases: Sequence[Case] = ()) -> Planner:
    if name == "reference":
        from services.planner.reference import ReferencePlanner

        if not cases:
            cases_path = getattr(args, "cases", None) or paths.dev_cases()
            from shared.cases import load_cases

            cases = load_cases(cases_path)
        return ReferencePlanner.from_cases(list(cases))
    if name == "llm":
        from services.planner.llm import LlmPlanner, PlannerSettings

        return LlmPlanner(PlannerSettings.from_args(args))
    raise SystemExit(f"pippin: unknown planner {name!r} (choose reference or llm)")


@command("eval")
def cmd_eval(args: argparse.Namespace) -> int:
    from pippin.evaluation import evaluate, report_table, result_row
    from shared.cases import load_cases

    cases = load_cases(args.cases)
    if args.limit:
        cases = cases[: args.limit]
    planner = _make_planner(args.planner, args, cases)

    def progress(r: CaseResult) -> None:
        if not args.json:
            mark = "ok " if r.graph_ok and r.effect_ok else ("g  " if r.graph_ok else "x  ")
            print(f"  {mark}{r.id}  {r.seconds:5.2f}s  {r.query[:70]}", file=sys.stderr)

    retrieve = None
    if args.retrieval:
        from services.retrieval.retriever import Retriever

        retriever = Retriever.load()

        def retrieve(text: str) -> tuple[tuple[str, ...], tuple[object, ...], float]:
            got = retriever.retrieve(text)
            return (() if got.fallback else got.tools), got.examples, got.seconds

    summary, results = evaluate(planner, cases, Path(args.world), progress, retrieve)
    summary["retrieval"] = bool(args.retrieval)
    summary["tool_layout"] = getattr(getattr(planner, "settings", None), "tool_layout", None)
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


def _moment(text: str) -> str:
    """--now: any ISO 8601 moment ("2026-12-01T10:00", "2026-12-01 10:00:00"), in the plan language's form."""
    import datetime as dt

    from shared.validate import DATETIME_FORMAT

    try:
        return dt.datetime.fromisoformat(text.strip()).strftime(DATETIME_FORMAT)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a moment; write it as YYYY-MM-DD HH:MM[:SS]") from None


def _now(args: argparse.Namespace) -> str:
    if getattr(args, "now", None):
        return args.now
    import json as _json

    return _json.loads(paths.default_world().read_text())["now"]


@command("ground")
def cmd_ground(args: argparse.Namespace) -> int:
    """What grounding finds in a request, how it resolves it, and what the grammar then offers."""
    import dataclasses

    from services.planner.grounding import Inventory, ground

    world = json.loads(Path(args.world or paths.default_world()).read_text(encoding="utf-8"))
    g = ground(args.text, _now(args), Inventory.from_world(world))
    offers = g.offers()
    if args.json:
        found = {"times": [{"phrase": m.phrase, "start": str(m.start), "end": str(m.end) if m.end else None,
                            "all_day": m.all_day} for m in g.times.moments],
                 "durations": [dataclasses.asdict(d) for d in g.times.durations],
                 "calendars": g.calendars, "reminder_lists": g.reminder_lists, "note_folders": g.note_folders,
                 "notes": g.notes, "people": g.people, "priority": g.priority}
        print(json.dumps({"found": found, "offers": dataclasses.asdict(offers), "prompt": g.prompt_block()},
                          ensure_ascii=False, indent=1))
        return 0
    print(g.prompt_block() or "Found: nothing.")
    print("Offered to the grammar:")
    if offers.starts is None:
        print("  starts: any date (no time found)")
    for start, ends in (offers.starts or {}).items():
        print(f"  start {start} -> end {' | '.join(ends)}")
    print(f"  reminder due (all_day): {offers.reminder_dues if offers.reminder_dues is not None else 'any'}")
    print(f"  durations: {offers.durations if offers.durations is not None else 'any'}")
    for kind in ("calendars", "reminder_lists", "note_folders", "priorities"):
        value = getattr(offers, kind)
        print(f"  {kind}: {value if value is not None else 'any (the Mac did not say)'}")
    return 0


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
    for chunk in planner.stream(request):
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

    from pippin.client import ask_terminal, show_result
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

    run = asyncio.run(run_request(planner, Executor(mac, Ledger()), args.text, _now(args),
                                  settings=SchedulerSettings(policy=Policy(args.policy)), confirm=ask_user,
                                  llm_joiner=args.joiner == "llm"))
    return show_result(run.to_json(), as_json=args.json)


@command("retrieve")
def cmd_retrieve(args: argparse.Namespace) -> int:
    from services.retrieval.retriever import Retriever

    retriever = Retriever.load()
    if args.cases:
        from services.retrieval.report import retrieval_report

        report = retrieval_report(retriever, Path(args.cases))
        print(json.dumps(report) if args.json else "\n".join(f"{k:<22} {v}" for k, v in report.items()))
        return 0
    if not args.text:
        raise SystemExit("pippin retrieve: give a TEXT or --cases FILE")
    got = retriever.retrieve(args.text)
    if args.json:
        print(json.dumps(got.to_json()))
        return 0
    print(f"tools ({got.seconds * 1000:.1f} ms{', fallback: all tools' if got.fallback else ''}):")
    for name in sorted(got.scores, key=got.scores.__getitem__, reverse=True):
        mark = "*" if name in got.tools else " "
        print(f"  {mark} {got.scores[name]:.3f}  {name}")
    print("examples:")
    for e in got.examples:
        print(f"  - {e.query}")
    return 0


@command("train-retriever")
def cmd_train_retriever(args: argparse.Namespace) -> int:
    from pippin.retriever_training import train
    from services.retrieval.retriever import ARTIFACT_DIR

    meta = train(Path(args.out) if args.out else ARTIFACT_DIR, seed=args.seed, n_train=args.train,
                 n_heldout=args.heldout)
    print(json.dumps(meta, indent=1))
    return 0


@command("gen-data")
def cmd_gen_data(args: argparse.Namespace) -> int:
    from pippin.datagen import eval_queries, generate, report, write_jsonl

    evals = eval_queries()
    samples = generate(args.n, args.seed, exclude=evals)
    build = None
    if args.with_prompts:  # each sample's prompt made here, for a machine without grounding's libraries
        from pippin.train import TrainSettings, prompt_builder

        build = prompt_builder(TrainSettings(prompt_style=args.with_prompts))
    write_jsonl(samples, Path(args.out), prompt=build)
    print(json.dumps({"seed": args.seed, "out": args.out, **report(samples, evals)}, indent=1))
    return 0


@command("listen")
def cmd_listen(args: argparse.Namespace) -> int:
    import asyncio

    from pippin.client import print_result
    from pippin.listen import listen
    from services.executor.ledger import Executor, Ledger
    from services.executor.simmac import SimulatedMac
    from services.listener import audio
    from services.listener.listener import ListenerSettings, Voice
    from services.scheduler.engine import Policy

    settings = ListenerSettings(wake_word=args.wake_word, asr_model=args.asr_model, asr_window_s=args.asr_window)
    if args.pipeline:
        return _listen_through_pipeline(args)
    if args.wav:
        try:
            pcm = audio.read_wav(Path(args.wav))
        except (audio.AudioFormatError, FileNotFoundError) as e:
            print(f"pippin listen: {e}", file=sys.stderr)
            return 1
        frames = audio.frames_of(pcm, realtime=args.realtime)
    elif args.stdin:
        frames = audio.stdin_frames(realtime=args.realtime)
    else:
        frames = audio.microphone_frames()
        print(f"listening for {args.wake_word.replace('_', ' ')} (Ctrl-C to stop)...", file=sys.stderr)
    voice = Voice(settings)
    planner = _make_planner(args.planner, args)
    retrieve = None
    if not args.no_retrieval and args.planner == "llm":
        from services.retrieval.retriever import Retriever

        retrieve = Retriever.load().tools_and_examples
    mac = SimulatedMac(args.mac_db or ":memory:", paths.default_world())
    speaker = None
    s = config_mod.load().speaker
    if not args.no_speak and s.get("enabled", True):
        from services.speaker.voice import Speaker

        try:
            speaker = Speaker(str(s.get("engine", "auto")), str(s.get("sink", "auto")))
        except RuntimeError as e:  # no audio player here: the answers are printed only
            print(f"pippin listen: answers will not be spoken: {e}", file=sys.stderr)
    try:
        report = asyncio.run(listen(frames, voice, planner, Executor(mac, Ledger()), _now(args),
                                    early=not args.no_early, policy=Policy(args.policy), retrieve=retrieve,
                                    speaker=speaker))
    except KeyboardInterrupt:
        return 0
    if args.json:
        print(json.dumps(report.to_json()))
        return 0
    data = report.to_json()
    print(f"audio {data['audio_s']:.2f}s, wake at {data['wake'] or 'never'}")
    for p in data["partials"]:
        print(f"  [{p['t']:6.2f}s] partial: {p['text']!r} (stable: {p['stable']!r})")
    for t in report.turns:
        print(f"heard: {t.transcript!r} (speech ended at {t.speech_end_s:.2f}s; early plan used: "
              f"{t.used_speculation})")
        print_result(t.result)
        if t.first_call_after_speech_s is not None:
            print(f"(first call {t.first_call_after_speech_s:.2f}s after the end of speech)")
    if not report.turns:
        print("nothing was asked" + (" (no wake phrase heard)" if voice.wake and not data["wake"] else ""))
    return 0


def _listen_through_pipeline(args: argparse.Namespace) -> int:
    import asyncio

    from pippin.client import send_audio, show_result
    from services.listener import audio

    if not args.wav:
        raise SystemExit("pippin listen --pipeline needs --wav FILE (the running listener stage has the microphone)")
    pcm = audio.read_wav(Path(args.wav))

    def show(t: dict[str, object]) -> None:
        if not args.json and t["text"]:  # an empty one only says that speech started
            print(f"  {'final' if t['final'] else 'partial'}: {t['text']!r}", flush=True)

    result = asyncio.run(send_audio(config_mod.load(), pcm, on_transcript=show))
    if result is None:
        print("no request was heard (is the listener stage running with source = \"bus\"?)", file=sys.stderr)
        return 1
    return show_result(result, as_json=args.json)


@command("trace")
def cmd_trace(args: argparse.Namespace) -> int:
    from pippin.trace import last_requests, select, stage_table, summary_line, write_trace
    from shared.runtime.tracing import read_spans

    config = config_mod.load()
    if config.trace_dir is None or not config.trace_dir.exists():
        print("pippin trace: no spans recorded ([tracing] file = true, and run some requests)", file=sys.stderr)
        return 1
    spans = read_spans(config.trace_dir)
    requests = [args.request] if args.request else last_requests(spans, args.last)
    chosen = select(spans, requests)
    if not chosen:
        print(f"pippin trace: no spans for {', '.join(requests) or 'any request'}", file=sys.stderr)
        return 1
    rows, table = stage_table(chosen)
    if args.out:
        write_trace(chosen, Path(args.out))
    if args.json:
        print(json.dumps({"requests": requests, "stages": rows, "out": args.out}))
    else:
        print(f"{summary_line(chosen)}; requests: {', '.join(requests)}")
        print(table)
        if args.out:
            print(f"trace written to {args.out} (open it in https://ui.perfetto.dev or chrome://tracing)")
    return 0


@command("profile")
def cmd_profile(args: argparse.Namespace) -> int:
    from pippin.client import supervisorctl
    from pippin.trace import profile

    config = config_mod.load()
    pid = supervisorctl(config, "pid", args.stage).stdout.strip()
    if not pid.isdigit() or pid == "0":
        print(f"pippin profile: {args.stage} is not running (pippin status)", file=sys.stderr)
        return 1
    out = Path(args.out or f"{args.stage}-profile.svg")
    done = profile(int(pid), args.seconds, out)
    if done.returncode != 0 or not out.exists():
        print(f"pippin profile: py-spy failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return 1
    print(f"flame graph of {args.stage} (pid {pid}, {args.seconds:g} s) written to {out}")
    return 0


@command("train")
def cmd_train(args: argparse.Namespace) -> int:
    from pippin.train import TrainSettings, train

    s = TrainSettings(base=args.base, data=args.data, out=args.out, seed=args.seed, epochs=args.epochs,
                      max_steps=args.max_steps, batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr,
                      rank=args.rank, alpha=args.alpha, max_len=args.max_len, retrieval=not args.no_retrieval,
                      device=args.device, prompt_style=args.prompt, layers_from=args.layers_from, bf16=args.bf16,
                      checkpoint_every=args.checkpoint_every, resume=args.resume,
                      activation_checkpointing=not args.keep_activations, init_adapter=args.init_adapter,
                      samples_before=args.samples_before,
                      snapshots=tuple(int(n) for n in args.snapshots.split(",") if n.strip()))
    print(json.dumps(train(s), indent=1))
    return 0


@command("blend-adapters")
def cmd_blend_adapters(args: argparse.Namespace) -> int:
    from pippin.train import blend_lora_gguf

    weights = args.weights or [1 / len(args.adapters)] * len(args.adapters)
    try:
        summary = blend_lora_gguf([Path(a) for a in args.adapters], weights, Path(args.out))
    except (OSError, ValueError) as e:  # a missing file, or adapters that cannot be blended
        print(f"pippin blend-adapters: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1))
    return 0


@command("up")
def cmd_up(args: argparse.Namespace) -> int:
    from pippin.client import status_table, up
    from shared.runtime.bus import StageError

    config = config_mod.load()
    try:
        up(config, timeout_s=args.timeout, listen=args.listen)
    except StageError as e:
        print(f"pippin: {e}\n{status_table(config)}", file=sys.stderr)
        return 1
    print(status_table(config))
    return 0


@command("down")
def cmd_down(args: argparse.Namespace) -> int:
    from pippin.client import down

    down(config_mod.load())
    return 0


@command("ctl")
def cmd_ctl(args: argparse.Namespace) -> int:
    """supervisorctl for the running pipeline, with its run directory and config found, so
    `pippin ctl restart planner` works as typed."""
    from pippin.client import supervisorctl

    out = supervisorctl(config_mod.load(), *args.args)
    print(out.stdout, end="")
    print(out.stderr, end="", file=sys.stderr)
    return out.returncode


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    from pippin.client import status_table

    print(status_table(config_mod.load()))
    return 0


@command("keys")
def cmd_keys(args: argparse.Namespace) -> int:
    from shared.runtime.bus import ensure_keys

    config = config_mod.load()
    ensure_keys(config.keys_dir)
    print(f"CurveZMQ keys in {config.keys_dir} (copy them to the other Macs' keys folder)")
    return 0


@command("doctor")
def cmd_doctor(args: argparse.Namespace) -> int:
    """Is this machine ready: Python, each app's permission (asked one at a time), Zoom."""
    from pippin.doctor import report, run_checks

    text, ok = report(run_checks(config_mod.load()))
    print(text)
    return 0 if ok else 1


@command("tools")
def cmd_tools(args: argparse.Namespace) -> int:
    from shared.catalog import catalog_markdown

    print(catalog_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pippin", description="A private assistant for your Mac.")
    p.add_argument("-v", "--verbose", action="store_true", help="let model libraries log and show progress bars")
    sub = p.add_subparsers(dest="cmd", required=True)

    e = sub.add_parser("eval", help="score a planner on a case file")
    e.add_argument("cases", help="a .jsonl case file, e.g. tests/shared/eval/dev.jsonl")
    e.add_argument("--planner", default="reference", help="reference | llm")
    e.add_argument("--limit", type=int, default=0, help="only the first N cases")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--out", help="write per-case results as JSON here")
    e.add_argument("--world", default=str(paths.default_world()))
    e.add_argument("--retrieval", action="store_true", help="give the planner the retrieved tools and examples")
    e.add_argument("--tool-layout", choices=["subset", "all", "grammar"],
                   help="with --retrieval: the prompt lists the retrieved tools and examples (subset), all 16 tools "
                   "and the retrieved examples (all), or stays static with only the grammar narrowed (grammar)")
    _planner_options(e)

    gr = sub.add_parser("ground", help="what grounding finds in a request (times, names, priority) and what the "
                        "grammar then allows")
    gr.add_argument("text")
    gr.add_argument("--now", type=_moment, help=NOW_HELP)
    gr.add_argument("--world", help="the simulated Mac whose names are offered (default: the shipped world)")
    gr.add_argument("--json", action="store_true")

    pl = sub.add_parser("plan", help="print the plan for a request, call by call as it streams")
    pl.add_argument("text")
    pl.add_argument("--planner", default="llm")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--now", type=_moment, help=NOW_HELP)
    _planner_options(pl)

    a = sub.add_parser("ask", help="plan and run a request (--local: in this process, on the simulated Mac)")
    a.add_argument("text")
    a.add_argument("--local", action="store_true", help="no daemons: plan and execute in-process")
    a.add_argument("--planner", default="llm")
    a.add_argument("--json", action="store_true")
    a.add_argument("--now", type=_moment, help=NOW_HELP)
    a.add_argument("--policy", default="draft", choices=["draft", "confirm", "auto"])
    a.add_argument("--mac-db", help="SQLite file of the simulated Mac (default: a fresh one in memory)")
    a.add_argument("--joiner", default="rules", choices=["rules", "llm"],
                   help="--local: llm lets the model replan once when a call fails (the pipeline: [scheduler] joiner)")
    _planner_options(a)

    r = sub.add_parser("retrieve", help="the tools and examples retrieval picks for a request, or its figures "
                       "over a case file")
    r.add_argument("text", nargs="?")
    r.add_argument("--cases", help="a .jsonl case file: tool recall, tools per request, latency")
    r.add_argument("--json", action="store_true")
    tr = sub.add_parser("train-retriever", help="train the tool classifier on generated requests (from a seed)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--train", type=int, default=6000)
    tr.add_argument("--heldout", type=int, default=1500)
    tr.add_argument("--out", help="artifact folder (default: models/retriever)")
    g = sub.add_parser("gen-data", help="generate requests with reference plans (training data)")
    g.add_argument("--n", type=int, default=5000)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", required=True, help="a .jsonl file (.jsonl.gz: gzipped)")
    g.add_argument("--with-prompts", choices=("full", "short", "grounded"),
                   help="store each sample's prompt in that style (pippin train then uses it as it is)")

    li = sub.add_parser("listen", help="speech in: wake word, streaming Whisper, early planning, on the "
                        "simulated Mac (microphone, --wav FILE or --stdin raw 16 kHz PCM)")
    li.add_argument("--wav", help="a 16 kHz mono 16-bit WAV file instead of the microphone")
    li.add_argument("--stdin", action="store_true", help="raw 16 kHz mono int16 PCM on stdin")
    li.add_argument("--realtime", action="store_true", help="stream the file at speaking pace (for latency)")
    li.add_argument("--no-speak", action="store_true", help="print the answers only (by default they are also "
                    "spoken, unless [speaker] enabled = false)")
    li.add_argument("--no-early", action="store_true", help="plan only from the final transcript")
    li.add_argument("--no-retrieval", action="store_true", help="offer all 16 tools (by default retrieval narrows "
                    "the planner's grammar to the tools it finds, as in the pipeline)")
    li.add_argument("--pipeline", action="store_true", help="send the WAV's audio to the running listener stage "
                    "over the bus ([listener] source = \"bus\") instead of listening in this process")
    li.add_argument("--wake-word", default="hey_jarvis", help="openWakeWord model, or none (push-to-talk)")
    li.add_argument("--asr-model", default="base", help="base, tiny.en, or a CTranslate2 Whisper folder")
    li.add_argument("--asr-window", type=float, default=10.0,
                    help="seconds of Whisper encoder window for shorter utterances (30: Whisper's own)")
    li.add_argument("--planner", default="llm")
    li.add_argument("--json", action="store_true")
    li.add_argument("--now", type=_moment, help=NOW_HELP)
    li.add_argument("--policy", default="draft", choices=["draft", "auto"])
    li.add_argument("--mac-db")
    _planner_options(li)

    t = sub.add_parser("trace", help="where a request's time went: a Chrome trace file and a per-stage table")
    t.add_argument("request", nargs="?", help="a request id (default: the latest)")
    t.add_argument("--last", type=int, default=1, help="the last N requests")
    t.add_argument("--out", help="write the trace-event JSON here (Perfetto, chrome://tracing)")
    t.add_argument("--json", action="store_true")
    pr = sub.add_parser("profile", help="sample a running stage with py-spy into a flame graph SVG")
    pr.add_argument("stage", choices=config_mod.PROCESSES)
    pr.add_argument("--seconds", type=float, default=10)
    pr.add_argument("--out", help="SVG file (default: STAGE-profile.svg)")

    tn = sub.add_parser("train", help="LoRA-train the planner on generated data and export a llama.cpp adapter "
                        "(a GPU is advised)")
    tn.add_argument("--data", required=True, help="jsonl from pippin gen-data")
    tn.add_argument("--base", default="qwen-0.5b")
    tn.add_argument("--out", default="models/adapters/qwen-0.5b-pippin")
    tn.add_argument("--seed", type=int, default=0)
    tn.add_argument("--epochs", type=float, default=2.0)
    tn.add_argument("--max-steps", type=int, default=0)
    tn.add_argument("--batch-size", type=int, default=8)
    tn.add_argument("--grad-accum", type=int, default=1)
    tn.add_argument("--lr", type=float, default=2e-4)
    tn.add_argument("--rank", type=int, default=16)
    tn.add_argument("--alpha", type=int, default=32)
    tn.add_argument("--max-len", type=int, default=2048)
    tn.add_argument("--no-retrieval", action="store_true", help="train on the full prompt (all tools, default "
                    "examples) instead of the retrieved one")
    tn.add_argument("--prompt", default="full", choices=["full", "short", "grounded"],
                    help="the planner's full prompt, or the short one (no tools, rules or examples: the adapter "
                    "learns them; the planner then uses it too); grounded: the short one with grounding's block "
                    "of resolved times and names")
    tn.add_argument("--layers-from", type=int, default=0, help="adapt only layers from this one up (0: all)")
    tn.add_argument("--device", default="auto")
    tn.add_argument("--bf16", default="auto", choices=["auto", "on", "off"],
                    help="bf16 autocast (auto: where the CPU has AMX or AVX512-BF16, or on a GPU)")
    tn.add_argument("--checkpoint-every", type=int, default=20, help="steps between checkpoints in OUT (0: none)")
    tn.add_argument("--resume", action="store_true", help="go on from OUT/checkpoint.pt (same data and settings)")
    tn.add_argument("--keep-activations", action="store_true", help="keep the adapted layers' activations for the "
                    "backward pass instead of recomputing them (13%% faster a step, ~1.5x the memory)")
    tn.add_argument("--init-adapter", default="", help="start from this adapter GGUF (one this command wrote, "
                    "with the same --rank and --layers-from) instead of a fresh LoRA: go on with new data")
    tn.add_argument("--samples-before", type=int, default=0, help="samples the --init-adapter had seen (the "
                    "learning curve's snapshots count from there)")
    tn.add_argument("--snapshots", default="", help="export an adapter to OUT/curve/N after N samples seen, "
                    "for the learning curve (comma-separated, e.g. 1000,2000,4000)")

    bl = sub.add_parser("blend-adapters", help="one adapter that changes the model by the weighted sum of "
                        "several adapters' changes (e.g. an adapter and the one trained on from it)")
    bl.add_argument("adapters", nargs="+", help="adapter GGUFs from pippin train (same base, layers, rank, alpha)")
    bl.add_argument("--weights", type=float, nargs="+", help="one per adapter (default: equal, summing to 1)")
    bl.add_argument("--out", required=True)

    u = sub.add_parser("up", help="start the pipeline under supervisord and wait until every stage is ready")
    u.add_argument("--timeout", type=float, default=600)
    u.add_argument("--listen", action="store_true", help="also start the always-on listener stage")
    sub.add_parser("down", help="stop the pipeline")
    sub.add_parser("doctor", help="check this machine: Python, permission to control each app (asked now, one at "
                   "a time), Zoom credentials; says what to do for each problem")
    sub.add_parser("status", help="each stage: process, ready, heartbeat age, requests served, last error")
    ct = sub.add_parser("ctl", help="supervisorctl for the running pipeline, e.g. `pippin ctl restart planner`")
    ct.add_argument("args", nargs=argparse.REMAINDER)
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
    p.add_argument("--decoder", choices=["greedy", "llama"],
                   help="greedy: ours, the grammar checked lazily (default); llama: llama-cpp-python's loop")
    p.add_argument("--no-jump-forward", action="store_true", help="decode the tokens the grammar forces one step "
                   "each, checked by llama.cpp's grammar sampler (the baseline of jump-forward)")
    p.add_argument("--lora", help="a llama.cpp LoRA adapter GGUF (default: the one shipped for the model, if any; "
                   "'' for none)")
    p.add_argument("--prompt-style", choices=["full", "short", "grounded"], help="the prompt the model was trained "
                   "on (default: what the adapter's train.json records; full without an adapter), e.g. grounded "
                   "for a model with an adapter merged into it")
    p.add_argument("--no-grounding", action="store_true", help="let the model write times, durations, calendars, "
                   "lists, folders and priority freely (by default code resolves them and the grammar allows only "
                   "what it resolved)")
    p.add_argument("--keep-repeats", action="store_true", help="keep a call that repeats an earlier one (by "
                   "default it is dropped and later references point to the earlier call)")
    p.add_argument("--no-merge", action="store_true", help="apply the adapter at run time (by default it is "
                   "merged into the model's weights once, cached: faster, the same scores)")


def quiet_libraries(verbose: bool) -> None:
    """Model libraries' logs and progress bars off unless -v: a command prints its answer and
    its own progress. Set before those libraries are imported (they read these at import)."""
    if verbose:
        os.environ["PIPPIN_VERBOSE"] = "1"
        return
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' and sentence-transformers' bars
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries(args.verbose)
    return _COMMANDS[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
