"""`pippin ask --local`: planner thread -> streaming parser -> scheduler -> simulated Mac."""

import asyncio
import json
import subprocess
import sys

from pippin.local import run_request
from services.executor.ledger import Executor, Ledger
from services.executor.simmac import SimulatedMac
from services.planner.reference import ReferencePlanner

PLAN = ('1. get_phone_number("Sid")\n2. create_note("Trip", "Pack", "")\n'
        '3. send_sms(["$1"], "Landed.")\n4. join()')


def test_calls_run_while_the_plan_is_still_written(world_path) -> None:
    planner = ReferencePlanner({"q": PLAN}, line_delay_s=0.2)
    run = asyncio.run(run_request(planner, Executor(SimulatedMac(":memory:", world_path), Ledger()), "q",
                                  "2026-11-23 09:30:00"))
    assert run.planner_error is None and run.plan_text.startswith("1. get_phone_number")
    first = run.result.calls[0]
    assert first.finished < run.t_plan_done - 0.3  # done long before the plan was
    assert [c.state for c in run.result.calls] == ["done", "done", "done"]
    assert run.to_json()["seconds"]["first_call_parsed"] < run.to_json()["seconds"]["plan"]


def test_a_planner_crash_is_reported_and_earlier_calls_stand(world_path) -> None:
    class Crashing:
        name = "crashing"

        def stream(self, request):
            yield '1. create_note("Trip", "Pack", "")\n'
            raise RuntimeError("out of memory")

    mac = SimulatedMac(":memory:", world_path)
    run = asyncio.run(run_request(Crashing(), Executor(mac, Ledger()), "q", "2026-11-23 09:30:00"))
    assert run.planner_error == "RuntimeError: out of memory"
    assert "the planner failed: RuntimeError: out of memory" in run.result.plan_errors[0]
    assert [e.kind for e in mac.effects()] == ["note_create"]


def test_pippin_ask_local_json() -> None:
    out = subprocess.run([sys.executable, "-m", "pippin.cli", "ask", "--local", "--planner", "reference", "--json",
                          "What's Sid's phone number?"], capture_output=True, text=True, timeout=120)
    data = json.loads(out.stdout)
    assert data["answer"] == "The number for Sid Jha is +14155550115."
    assert data["calls"][0]["state"] == "done"


def test_ask_and_ask_local_give_one_result_schema(world_path) -> None:
    """The scheduler stage and the one-process runner build their results with the same
    function; here the local one's keys are checked against the schema's documented ones."""
    import services.scheduler.result as schema

    run = asyncio.run(run_request(ReferencePlanner({"q": PLAN}), Executor(SimulatedMac(":memory:", world_path),
                                                                          Ledger()), "q", "2026-11-23 09:30:00"))
    data = run.to_json()
    assert set(data) == {"request_id", "query", "plan", "planner_error", "plan_errors", "answer", "calls",
                         "seconds", "replan"}
    assert set(data["seconds"]) == {"plan", "first_call_parsed", "total"}
    assert all(set(c) == {"idx", "tool", "args", "state", "result", "error", "start_s", "end_s", "reused"}
               for c in data["calls"])
    for key in data:
        assert key in schema.__doc__


def test_ask_takes_the_moment_in_any_iso_form_and_refuses_a_wrong_one_before_planning() -> None:
    def ask(now: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pippin.cli", "ask", "--local", "--planner", "reference",
                               "--json", "--now", now, "What's Sid's phone number?"],
                              capture_output=True, text=True, timeout=120)

    iso = ask("2026-12-01T10:00")
    assert iso.returncode == 0 and json.loads(iso.stdout)["calls"][0]["state"] == "done"
    wrong = ask("next tuesday")
    assert wrong.returncode == 2 and "'next tuesday' is not a moment; write it as YYYY-MM-DD HH:MM" in wrong.stderr
