"""The running pipeline: real processes under supervisord, real ZeroMQ sockets.

The planner stage runs the reference planner over tests/data/pipeline_cases.jsonl
(a stage swapped by config, as a user would swap in another model), with a delay per
line and some app latency on the simulated Mac so that kills land mid-request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import msgpack
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from pippin.client import PipelineClient, down, supervisorctl, up
from pippin.fuzz import fuzz
from shared import config as config_mod
from shared.runtime.bus import HEARTBEAT_S, IN_FLIGHT_MAX, TOPIC_TYPES, Bus, StageError
from shared.wire import PAYLOADS, Message, decode, encode

pytestmark = pytest.mark.slow
CASES = Path(__file__).parent / "data" / "pipeline_cases.jsonl"
STAGES = config_mod.REQUEST_STAGES
QUERIES = [json.loads(line)["query"] for line in CASES.read_text().splitlines()]


REFERENCE_PLANNER = f'''kind = "reference"
cases = "{CASES}"
line_delay_s = 0.15'''


def write_config(path: Path, *, transport: str = "ipc", curve: bool = False, base_port: int = 5550,
                 extra: str = "", planner: str = REFERENCE_PLANNER, joiner: str = "rules") -> Path:
    path.write_text(f"""
[bus]
transport = "{transport}"
host = "127.0.0.1"
base_port = {base_port}
[security]
curve = {str(curve).lower()}
keys_dir = "{{run}}/keys"
[planner]
{planner}
[executor]
backend = "simulated"
db = "{{run}}/simmac.sqlite"
ledger = "{{run}}/ledger.sqlite"
latency_s = {{ Contacts = 0.2, Messages = 0.2, Mail = 0.2 }}
[scheduler]
call_timeout_s = 15
stream_timeout_s = 40
joiner = "{joiner}"
[gateway]
request_timeout_s = 60
[watchdog]
heartbeat_timeout_s = 4
startup_grace_s = 3
{extra}
""")
    return path


class Pipeline:
    def __init__(self, tmp: Path, **kw: object) -> None:
        self.config_path = write_config(tmp / "pippin.toml", **kw)  # type: ignore[arg-type]
        self.run_dir = tmp / "run"
        os.environ["PIPPIN_CONFIG"] = str(self.config_path)
        os.environ["PIPPIN_RUN"] = str(self.run_dir)
        self.config = config_mod.load(self.config_path, self.run_dir)

    def __enter__(self) -> Pipeline:
        up(self.config, timeout_s=90)
        return self

    def __exit__(self, *exc: object) -> None:
        down(self.config)
        os.environ.pop("PIPPIN_CONFIG", None)
        os.environ.pop("PIPPIN_RUN", None)

    def pid(self, stage: str) -> int:
        return int(supervisorctl(self.config, "pid", stage).stdout.strip())

    def effects(self) -> list[tuple[str, str]]:
        db = sqlite3.connect(self.run_dir / "simmac.sqlite")
        try:
            return db.execute("SELECT call_key, kind FROM effects").fetchall()
        finally:
            db.close()

    async def client(self) -> PipelineClient:
        return PipelineClient(self.config)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory):
    with Pipeline(tmp_path_factory.mktemp("ipc")) as p:
        yield p


def test_a_request_goes_end_to_end(pipe: Pipeline) -> None:
    async def go():
        c = PipelineClient(pipe.config)
        events = []
        try:
            result = await c.ask(QUERIES[0], on_progress=events.append)
            stages = await c.status()
        finally:
            c.close()
        return result, events, stages

    result, events, stages = run(go())
    assert [c["state"] for c in result["calls"]] == ["done", "done", "done"]
    assert "ready to send in Messages" in result["answer"]
    assert {e["kind"] for e in events} >= {"start", "done"}
    assert all(stages[s]["ready"] for s in STAGES)
    assert supervisorctl(pipe.config, "status").stdout.count("RUNNING") == 7


BAD_FRAMES = [
    [b"\xc1 not msgpack"],
    [msgpack.packb([1, 2])],
    [msgpack.packb({"v": 99, "type": "ask"})],
    [msgpack.packb({"v": 1, "type": "launch_rockets", "rid": "x", "tid": "", "from": "", "mono": 0, "wall": 0,
                    "body": {}})],
    [msgpack.packb({"v": 1, "type": "execute", "rid": "x", "tid": "", "from": "", "mono": 0, "wall": 0,
                    "body": {"idx": "one"}})],
    [b"a", b"b", b"c"],
    [b"\x00" * (5 * 1024 * 1024)],
    [b""],
]


def test_a_request_leaves_a_trace_from_every_stage(pipe: Pipeline, tmp_path: Path) -> None:
    from pippin.trace import chrome_trace, select, stage_table
    from shared.runtime.tracing import read_spans

    result = run(_ask(pipe.config, QUERIES[0]))
    time.sleep(1.5)  # stages flush their spans with each heartbeat (1 s)
    spans = read_spans(pipe.run_dir / "trace")
    asks = [s for s in spans if s.stage == "gateway" and s.name == "work" and s.detail == "ask"]
    rid = asks[-1].request_id
    mine = select(spans, [rid])
    assert {"gateway", "retrieval", "planner", "scheduler", "executor"} <= {s.stage for s in mine}
    outer = asks[-1]
    for s in mine:  # every stage's work on it lies inside the gateway's handling of the ask
        if s.name == "work":
            assert outer.start - 0.001 <= s.start and s.start + s.seconds <= outer.start + outer.seconds + 0.05, s
    executes = [s for s in mine if s.stage == "executor" and s.name == "work"]
    assert len(executes) == len(result["calls"])

    trace = json.loads(json.dumps(chrome_trace(mine)))
    events = trace["traceEvents"]
    assert {e["ph"] for e in events} <= {"X", "M", "s", "f"}
    slices = [e for e in events if e["ph"] == "X"]
    assert all(isinstance(e["ts"], (int, float)) and e["dur"] >= 0 and e["pid"] for e in slices)
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert {"gateway", "retrieval", "planner", "scheduler", "executor"} <= names
    starts = {e["id"] for e in events if e["ph"] == "s"}
    assert starts and starts == {e["id"] for e in events if e["ph"] == "f"}
    rows, table = stage_table(mine)
    assert "executor" in table and all(r["work_ms"][0] >= 0 for r in rows)

    out = tmp_path / "trace.json"
    cli = subprocess.run([sys.executable, "-m", "pippin.cli", "trace", rid, "--out", str(out)], capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "PIPPIN_CONFIG": str(pipe.config_path), "PIPPIN_RUN": str(pipe.run_dir)})
    assert cli.returncode == 0, cli.stderr
    assert "share of e2e" in cli.stdout and json.loads(out.read_text())["traceEvents"]


def test_pippin_profile_samples_a_running_stage(pipe: Pipeline, tmp_path: Path) -> None:
    out = tmp_path / "scheduler.svg"
    cli = subprocess.run([sys.executable, "-m", "pippin.cli", "profile", "scheduler", "--seconds", "2", "--out",
                          str(out)], capture_output=True, text=True, timeout=90,
                         env={**os.environ, "PIPPIN_CONFIG": str(pipe.config_path), "PIPPIN_RUN": str(pipe.run_dir)})
    assert cli.returncode == 0, cli.stderr
    assert out.read_text().lstrip().startswith("<?xml") and "svg" in out.read_text()[:500]


def test_malformed_frames_are_answered_and_every_stage_keeps_serving(pipe: Pipeline) -> None:
    ctx = zmq.Context()
    try:
        for stage in STAGES:
            sock = ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.connect(pipe.config.endpoint(stage))
            for frames in BAD_FRAMES:
                sock.send_multipart(frames)
                assert sock.poll(5000), f"{stage} did not answer a bad frame"
                reply = decode(sock.recv_multipart()[-1])
                assert reply.type == "error" and "bad frame" in reply.body["message"], (stage, reply)
            # a well-formed message of a type the stage does not serve: a clear error too
            sock.send(encode(Message("audio", {"seq": 1, "pcm": b"", "rate": 16000}, "fz")))
            assert sock.poll(5000)
            assert decode(sock.recv_multipart()[-1]).type == "error"
            sock.close()
    finally:
        ctx.destroy(linger=0)

    async def go():
        c = PipelineClient(pipe.config)
        try:
            result = await c.ask(QUERIES[2])
            for _ in range(20):  # status comes from heartbeats, once a second
                stages = await c.status()
                if all(stages[s]["stats"]["bad_frames"] >= len(BAD_FRAMES) for s in STAGES):
                    break
                await asyncio.sleep(0.3)
            return result, stages
        finally:
            c.close()

    result, stages = run(go())
    assert all(c["state"] == "done" for c in result["calls"])
    for stage in STAGES:
        assert stages[stage]["stats"]["bad_frames"] >= len(BAD_FRAMES), stage
    for stage in ("bus", *STAGES):
        assert "RUNNING" in supervisorctl(pipe.config, "status", stage).stdout


def _status_after_fuzz(pipe: Pipeline) -> tuple[dict, dict]:
    async def go():
        c = PipelineClient(pipe.config)
        try:
            await asyncio.sleep(1.5 * HEARTBEAT_S)  # every stage has sent a heartbeat since
            stages = await c.status()
            return stages, await c.ask(QUERIES[2])
        finally:
            c.close()

    return run(go())


def _assert_fresh(stages: dict) -> None:
    for stage in STAGES:
        assert stages[stage]["heartbeat_age_s"] < 2 * HEARTBEAT_S, (stage, stages[stage]["heartbeat_age_s"])
        assert stages[stage]["stats"]["broken"] == "", stage


def test_thousands_of_bad_frames_at_every_socket_and_topic_leave_status_true_and_requests_working(
        pipe: Pipeline) -> None:
    replies: list[tuple[str, Message]] = []
    report = fuzz(pipe.config, 3000, seed=7, on_reply=lambda stage, frame: replies.append((stage, decode(frame))))
    assert report.sent_news == 1500 and not report.unanswered, report.unanswered[:5]
    assert all(m.type == "error" for _, m in replies), [m for _, m in replies if m.type != "error"][:3]

    stages, result = _status_after_fuzz(pipe)
    _assert_fresh(stages)
    for stage in STAGES:  # every stage heard bad news, and lived
        assert stages[stage]["stats"]["bad_news"] > 0, stage
    assert all(c["state"] == "done" for c in result["calls"])

    # The gateway still hears the bus: a restarted stage's new instance shows up in status.
    old = stages["planner"]["instance"]
    assert supervisorctl(pipe.config, "restart", "planner").returncode == 0

    async def new_instance() -> dict:
        c = PipelineClient(pipe.config)
        try:
            for _ in range(60):
                now = await c.status()
                if now["planner"]["instance"] != old and now["planner"]["ready"]:
                    return now
                await asyncio.sleep(0.5)
            return now
        finally:
            c.close()

    after = run(new_instance())
    assert after["planner"]["instance"] != old and after["planner"]["heartbeat_age_s"] < 2 * HEARTBEAT_S


# Envelopes near and far from valid ones; never an `ask` (a valid one would be a real request).
ints = st.integers(-(2**63), 2**64 - 1)  # what msgpack can carry
envelopes = st.fixed_dictionaries({
    "v": st.sampled_from([1, 1, 2, "1"]), "type": st.sampled_from([*(k for k in PAYLOADS if k != "ask"), "nope"]),
    "rid": st.text(max_size=8) | ints, "tid": st.text(max_size=8), "from": st.text(max_size=8),
    "mono": st.floats(allow_nan=False) | st.text(max_size=3), "wall": st.floats(allow_nan=False),
    "body": st.dictionaries(st.sampled_from(["text", "idx", "tool", "args", "stats", "ready", "instance"]),
                            st.none() | ints | st.text(max_size=8) | st.lists(ints, max_size=3)),
})
frame_lists = st.lists(st.binary(max_size=64) | envelopes.map(msgpack.packb), min_size=1, max_size=3)


@settings(max_examples=300, deadline=None)
@given(frames=frame_lists, stage=st.sampled_from(STAGES), topic=st.sampled_from(list(TOPIC_TYPES)))
def test_hypothesis_made_frames_are_answered_by_every_stage_and_ignored_on_the_bus(
        pipe: Pipeline, frames: list[bytes], stage: str, topic: bytes) -> None:
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(pipe.config.endpoint(stage))
        pub = ctx.socket(zmq.PUB)
        pub.linger = 0
        pub.connect(pipe.config.endpoint("bus_in"))
        sock.send_multipart(frames)
        pub.send_multipart([topic, *frames])
        assert sock.poll(5000), f"{stage} did not answer {frames!r}"
        reply = decode(sock.recv_multipart()[-1])
        if reply.type != "error":  # only a valid message gets anything but an error
            assert len(frames) == 1 and decode(frames[0]), (frames, reply)
    finally:
        ctx.destroy(linger=0)


def test_after_the_hypothesis_frames_every_heartbeat_is_fresh(pipe: Pipeline) -> None:
    stages, result = _status_after_fuzz(pipe)
    _assert_fresh(stages)
    assert all(c["state"] == "done" for c in result["calls"])


def test_a_flood_of_requests_is_shed_with_a_clear_busy_error_and_counted_in_status(pipe: Pipeline) -> None:
    n = 3 * IN_FLIGHT_MAX
    ctx = zmq.Context()
    ended: dict[str, Message] = {}
    try:
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(pipe.config.endpoint("gateway"))
        for i in range(n):  # requests the reference planner has no plan for: each ends in an error
            sock.send(encode(Message("ask", {"text": f"flood number {i}"}, f"flood-{i}", sender="test")))
        deadline = time.monotonic() + 120
        while len(ended) < n and time.monotonic() < deadline:
            if sock.poll(1000):
                reply = decode(sock.recv_multipart()[-1])
                if reply.type in ("result", "error"):
                    ended[reply.request_id] = reply
    finally:
        ctx.destroy(linger=0)
    assert len(ended) == n, f"{n - len(ended)} requests never ended"
    busy = [m for m in ended.values() if m.type == "error" and "busy" in m.body["message"]]
    assert busy and len(busy) <= n - IN_FLIGHT_MAX, len(busy)
    stages, result = _status_after_fuzz(pipe)
    assert stages["gateway"]["stats"]["shed"] >= len(busy)
    # nothing is left in flight but the status request itself (and the client's resend of it
    # when it first hears the gateway's heartbeat)
    assert stages["gateway"]["stats"]["in_flight"] <= 2
    assert all(c["state"] == "done" for c in result["calls"])


@pytest.mark.parametrize("stage", ["planner", "scheduler", "executor", "retrieval", "gateway"])
def test_killing_a_stage_mid_request_loses_nothing_and_sends_nothing_twice(pipe: Pipeline, stage: str) -> None:
    rounds = 3

    async def one_round(n: int) -> list[object]:
        c = PipelineClient(pipe.config)
        try:
            asks = [asyncio.create_task(c.ask(q, request_id=f"kill-{stage}-{n}-{i}", timeout_s=90))
                    for i, q in enumerate(QUERIES[:3])]
            await asyncio.sleep(0.35 if stage != "retrieval" else 0.05)
            os.kill(pipe.pid(stage), signal.SIGKILL)
            return await asyncio.gather(*asks, return_exceptions=True)
        finally:
            c.close()

    for n in range(rounds):
        t0 = time.monotonic()
        outcomes = run(one_round(n))
        assert time.monotonic() - t0 < 95
        for o in outcomes:
            # Each request ends: a result, or a clear error naming the stage.
            assert isinstance(o, dict) or (isinstance(o, StageError) and o.message), o
            if isinstance(o, dict):
                assert o["answer"]
        run(_wait_ready(pipe))
    keys = Counter(k for k, _ in pipe.effects())
    assert keys and max(keys.values()) == 1, [k for k, v in keys.items() if v > 1]
    ok = sum(isinstance(o, dict) for o in outcomes)
    assert ok >= 1  # the pipeline recovers: the last round's requests come back


def test_confirm_policy_asks_the_client_and_sends_only_what_it_agreed_to(pipe: Pipeline) -> None:
    def outbox() -> list[tuple[str, str, str]]:
        db = sqlite3.connect(pipe.run_dir / "simmac.sqlite")
        try:
            return db.execute("SELECT kind, body, status FROM outbox").fetchall()
        finally:
            db.close()

    before = outbox()
    asked: list[dict] = []

    async def go():
        c = PipelineClient(pipe.config)

        async def yes(q: dict) -> bool:
            asked.append(q)
            return True

        async def no(q: dict) -> bool:
            asked.append(q)
            return False

        try:
            sent = await c.ask(QUERIES[0], policy="confirm", on_confirm=yes)  # texts Sid and Suhong
            declined = await c.ask(QUERIES[2], policy="confirm", on_confirm=no)  # emails Priya
            unasked = await c.ask(QUERIES[0], policy="confirm")  # no one to ask: nothing is sent
        finally:
            c.close()
        return sent, declined, unasked

    sent, declined, unasked = run(go())
    assert [q["tool"] for q in asked] == ["send_sms", "compose_new_email"]
    assert asked[0]["question"].startswith("send sms? (recipients: [") and "+1" in asked[0]["question"]
    new = outbox()[len(before):]
    assert [(kind, status) for kind, _, status in new] == [("sms", "sent")], new
    sms = next(c for c in sent["calls"] if c["tool"] == "send_sms")
    assert sms["state"] == "done"
    email = next(c for c in declined["calls"] if c["tool"] == "compose_new_email")
    assert email["state"] == "failed" and "you did not confirm it" in email["error"]
    assert "you did not confirm it" in declined["answer"]
    assert next(c for c in unasked["calls"] if c["tool"] == "send_sms")["state"] == "failed"


async def _ask(config: config_mod.Config, query: str, layout: str | None = None) -> dict:
    c = PipelineClient(config)
    try:
        return await c.ask(query, layout=layout)
    finally:
        c.close()


async def _wait_ready(pipe: Pipeline) -> None:
    c = PipelineClient(pipe.config)
    try:
        await c.wait_ready(60)
    finally:
        c.close()


def test_a_stage_is_swapped_from_config_without_touching_the_rest(pipe: Pipeline, tmp_path: Path) -> None:
    alt_cases = tmp_path / "alt.jsonl"
    alt_cases.write_text(json.dumps({"id": "a", "query": QUERIES[0],
                                     "plan": '1. maps_open_location("Ferry Building")\n2. join()'}) + "\n")
    alt_config = tmp_path / "alt.toml"
    alt_config.write_text(pipe.config_path.read_text().replace(str(CASES), str(alt_cases)))
    original = pipe.config_path.read_text()
    others = {s: pipe.pid(s) for s in STAGES if s != "planner"}
    try:
        pipe.config_path.write_text(original + f'\n[commands]\nplanner = "env PIPPIN_CONFIG={alt_config} '
                                               f'{sys.executable} -m services.planner"\n')
        assert supervisorctl(pipe.config, "restart", "planner").returncode == 0
        run(_wait_ready(pipe))
        result = run(_ask(pipe.config, QUERIES[0]))
        assert [c["tool"] for c in result["calls"]] == ["maps_open_location"]
        assert {s: pipe.pid(s) for s in others} == others
    finally:
        pipe.config_path.write_text(original)
        supervisorctl(pipe.config, "restart", "planner")
        run(_wait_ready(pipe))


def test_the_watchdog_restarts_a_hung_stage(pipe: Pipeline) -> None:
    before = pipe.pid("retrieval")
    os.kill(before, signal.SIGSTOP)  # hung: still "RUNNING" to supervisord, but silent
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and pipe.pid("retrieval") in (before, 0):
            time.sleep(0.5)
        assert pipe.pid("retrieval") not in (before, 0), "the watchdog did not restart the hung stage"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(before, signal.SIGKILL)
    run(_wait_ready(pipe))


def test_tcp_with_curve_and_a_wrong_key_is_refused(tmp_path: Path) -> None:
    port = 20000 + (os.getpid() % 2000) * 10
    with Pipeline(tmp_path, transport="tcp", curve=True, base_port=port) as p:
        result = run(_ask(p.config, QUERIES[1]))
        assert [c["state"] for c in result["calls"]] == ["done", "done"]
        assert p.config.endpoint("gateway") == f"tcp://127.0.0.1:{port + 2}"

        intruder = tmp_path / "intruder"
        intruder.mkdir()
        zmq.auth.create_certificates(str(intruder), "client")
        ctx = zmq.Context()
        try:
            for keyed in (True, False):
                sock = ctx.socket(zmq.DEALER)
                sock.linger = 0
                if keyed:  # a key pair of its own, not among the authorized ones
                    pub, sec = zmq.auth.load_certificate(str(intruder / "client.key_secret"))
                    server_pub, _ = zmq.auth.load_certificate(str(p.config.keys_dir / "server.key"))
                    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = pub, sec, server_pub
                sock.connect(p.config.endpoint("gateway"))
                sock.send(encode(Message("status", {}, "intruder")))
                assert not sock.poll(3000), "a peer without the right key got an answer"
                sock.close()
        finally:
            ctx.destroy(linger=0)


async def _publish_transcripts(config, texts: list[str], *, pause: bool = False) -> None:
    bus = Bus(config, "client")
    pub = bus.publisher()
    try:
        await asyncio.sleep(0.3)  # let the publisher reach the forwarder
        for text in texts:
            body = {"text": text, "final": False, "stable": text, "pause": pause}
            await pub.send_multipart([b"transcript", encode(Message("transcript", body, sender="client"))])
            await asyncio.sleep(0.5)
    finally:
        bus.close()


def _stats(config, stage: str) -> dict:
    c = PipelineClient(config)
    try:
        return run(c.status()).get(stage, {}).get("stats", {})
    finally:
        c.close()


def _stat_above(config, stage: str, key: str, above: int, wait_s: float = 15) -> int:
    """The stage's counter once a heartbeat reports it above `above` (its last value if none does in time)."""
    deadline = time.time() + wait_s
    while (value := int(_stats(config, stage).get(key, 0))) <= above and time.time() < deadline:
        time.sleep(0.3)
    return value


def test_words_planned_at_a_pause_are_the_plan_of_a_request_with_the_same_words(pipe: Pipeline) -> None:
    """At a pause in speech (a `transcript` with pause set) the gateway has the words planned
    ahead and runs the plan's silent lookups, nothing else. A request with the same words then
    follows that plan and takes the lookup's outcome instead of looking again; one whose words
    changed after the pause is planned afresh, and gets its own plan."""
    plans = {json.loads(line)["query"]: json.loads(line)["plan"] for line in CASES.read_text().splitlines()}
    before, gateway = _stats(pipe.config, "planner"), _stats(pipe.config, "gateway")
    effects = len(pipe.effects())
    run(_publish_transcripts(pipe.config, [QUERIES[0]], pause=True))
    assert _stat_above(pipe.config, "planner", "speculations", before.get("speculations", 0)) > before.get(
        "speculations", 0)
    time.sleep(1.0)  # the reference planner writes its 4 lines, 0.15 s each
    assert len(pipe.effects()) == effects  # no message drafted: only the two lookups ran
    result = run(_ask(pipe.config, QUERIES[0], layout="grammar"))
    assert result["plan"] == plans[QUERIES[0]] and result["answer"], result
    *lookups, text = result["calls"]
    assert [c["tool"] for c in lookups] == ["get_phone_number"] * 2, lookups
    assert all(c["reused"] and c["state"] == "done" for c in lookups), lookups
    assert text["tool"] == "send_sms" and text["state"] == "done" and not text["reused"], text
    assert _stat_above(pipe.config, "planner", "speculations_used", before.get("speculations_used", 0)) == (
        before.get("speculations_used", 0) + 1)
    assert len(pipe.effects()) > effects  # the request's own calls ran
    # The request kept the pause's moment and tools, so on a real Mac's clock it asks the same plan.
    assert _stats(pipe.config, "gateway")["early_plans_taken"] == gateway.get("early_plans_taken", 0) + 1

    run(_publish_transcripts(pipe.config, [QUERIES[3]], pause=True))  # the user then said something else
    _stat_above(pipe.config, "planner", "speculations", before.get("speculations", 0) + 1)
    other = run(_ask(pipe.config, QUERIES[1], layout="grammar"))
    assert other["plan"] == plans[QUERIES[1]], other
    after = _stats(pipe.config, "planner")
    assert after["speculations"] == before.get("speculations", 0) + 2
    assert after["speculations_used"] == before.get("speculations_used", 0) + 1


def _planner_stat(config, key: str, wait_s: float = 15) -> int:
    """The planner's counter once a heartbeat reports it non-zero (0 if none does in time)."""
    deadline = time.time() + wait_s
    while time.time() < deadline:
        c = PipelineClient(config)
        try:
            stages = run(c.status())
        finally:
            c.close()
        value = stages.get("planner", {}).get("stats", {}).get(key, 0)
        if value:
            return int(value)
        time.sleep(0.5)
    return 0


@pytest.mark.llm
def test_the_llm_joiner_through_the_pipeline(tmp_path: Path) -> None:
    """A real model (SmolLM2) plans, and decides Finish or Replan when a call fails: whatever
    it decides, the request ends with an answer and no action is done twice."""
    planner = 'kind = "llm"\nmodel = "smollm2-135m"\nmax_tokens = 160\nmax_calls = 6'
    with Pipeline(tmp_path, planner=planner, joiner="llm", base_port=5700) as p:
        result = run(_ask(p.config, "text Zorblax Quuxington that I am running late"))
        assert result["answer"]
        # The listener's words so far, as it publishes them while someone speaks: the idle
        # planner warms its prompt with them (stats: warm_tokens).
        run(_publish_transcripts(p.config, ["", "remind me to", "remind me to water the"]))
        assert _planner_stat(p.config, "warm_tokens") > 0
        if result["replan"] is not None:  # the schema always has the key: null when it did not replan
            assert result["replan"]["decisions"][0] == "replan" and "FAILED" in result["replan"]["first_results"]
        db = sqlite3.connect(p.run_dir / "simmac.sqlite")
        try:
            actions = db.execute("SELECT tool, structured FROM effects").fetchall()
        finally:
            db.close()
        assert len(actions) == len(set(actions)), actions


@pytest.mark.skipif(not __import__("pippin.speech").speech.available(), reason="needs espeak-ng and sox")
def test_the_listener_stage_hears_a_request_on_the_bus(pipe: Pipeline) -> None:
    """Speech published as audio frames: the listener stage wakes, transcribes, asks the
    gateway (whose reference planner knows this request) and publishes the answer."""
    from pippin import speech
    from pippin.client import send_audio

    original = pipe.config_path.read_text()
    try:
        pipe.config_path.write_text(original + '\n[listener]\nsource = "bus"\n')
        assert supervisorctl(pipe.config, "start", "listener").returncode == 0
        c = PipelineClient(pipe.config)
        try:
            run(c.wait_ready(120, ("listener", *STAGES)))
        finally:
            c.close()
        pcm = speech.utterance(0.5, "hey jarvis", 0.5, QUERIES[1], 1.0)
        heard: list[dict] = []
        result = run(send_audio(pipe.config, pcm, realtime=True, on_transcript=heard.append, wait_s=90))
        final = heard[-1]["text"].lower().replace("-", "") if heard else ""
        assert heard[-1]["final"] and "offsite" in final and "calendar" in final, heard
        assert any(not h["final"] and h["text"] for h in heard)  # partial transcripts came first
        assert result is not None and result["answer"], result
        frames = _stats(pipe.config, "listener")
        silent = run(send_audio(pipe.config, speech.utterance(0.5, QUERIES[1], 1.0), realtime=False, wait_s=8))
        assert silent is None  # no wake phrase: nothing asked
        # ...though every frame was heard: a second stream, numbered from 0 again, follows the first.
        heard_now = _stat_above(pipe.config, "listener", "frames", frames["frames"])
        assert heard_now > frames["frames"] and _stats(pipe.config, "listener")["frames_dropped"] == frames[
            "frames_dropped"]
    finally:
        supervisorctl(pipe.config, "stop", "listener")
        pipe.config_path.write_text(original)


def test_pippin_status_cli(pipe: Pipeline) -> None:
    out = subprocess.run([sys.executable, "-m", "pippin.cli", "status"], capture_output=True, text=True,
                         env={**os.environ, "PIPPIN_CONFIG": str(pipe.config_path), "PIPPIN_RUN": str(pipe.run_dir)},
                         timeout=60)
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    for stage in STAGES:
        assert "RUNNING" in lines[stage] and " yes " in lines[stage], out.stdout


def test_pippin_ctl_is_supervisorctl_for_the_running_pipeline(pipe: Pipeline) -> None:
    out = subprocess.run([sys.executable, "-m", "pippin.cli", "ctl", "status", "planner"], capture_output=True,
                         text=True, timeout=60,
                         env={**os.environ, "PIPPIN_CONFIG": str(pipe.config_path), "PIPPIN_RUN": str(pipe.run_dir)})
    assert out.returncode == 0 and "RUNNING" in out.stdout, (out.stdout, out.stderr)
