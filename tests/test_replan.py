"""The joiner's Finish/Replan step: at most one new plan, and no call that already ran is
run again. The model's choices are scripted here (a stand-in for the model, so the rules
are tested exactly); test_replan_with_a_real_model runs the same with llama.cpp."""

import asyncio
import json

import pytest

from services.executor.ledger import Executor, Ledger
from services.executor.simmac import SimulatedMac
from services.scheduler.engine import Scheduler
from services.scheduler.replan import needs_review, observations, origin_id, round_id, run_rounds
from shared.plan import parse_plan

FIRST = parse_plan(
    '1. get_phone_number("Zorblax Quuxington")\n'
    '2. create_reminder("Buy milk", "2026-11-24 00:00:00", "", "", 0, True)\n'
    '3. send_sms(["$1"], "Running late")\n4. join()')
SECOND = parse_plan(
    '1. get_phone_number("Sid")\n'
    '2. create_reminder("Buy milk", "2026-11-24 00:00:00", "", "", 0, True)\n'
    '3. send_sms(["$1"], "Running late")\n4. join()')


def setup(world_path):
    mac = SimulatedMac(":memory:", world_path)
    executor = Executor(mac, Ledger())
    ran: list[tuple[str, int, str]] = []

    async def execute(rid, idx, tool, args, deliver):
        ran.append((rid, idx, tool))
        return await asyncio.to_thread(executor.execute, rid, idx, tool, args, deliver=deliver)

    return mac, Scheduler(execute), ran


def test_a_replan_reuses_what_ran_and_never_repeats_it(world_path) -> None:
    mac, sched, ran = setup(world_path)
    asked: list[str] = []

    async def scripted_decide(query, obs):
        asked.append(obs)
        return "replan"

    def scripted_replan(rid, obs):
        assert rid == "q1~r1" and "FAILED" in obs
        return SECOND

    rounds = asyncio.run(run_rounds(sched, "q1", "text Sid I'm late, remind me to buy milk", FIRST,
                                    decide=scripted_decide, replan=scripted_replan))
    assert len(rounds) == 2  # one replan, even though the (scripted) model would replan forever
    assert [r.decision for r in rounds] == ["replan", None]  # the second plan succeeded: no model call
    assert "1. get_phone_number(\"Zorblax Quuxington\") -> FAILED" in asked[0]
    last = rounds[-1].result
    assert last.ok
    reminder = next(c for c in last.calls if c.tool == "create_reminder")
    assert reminder.reused and not next(c for c in last.calls if c.tool == "send_sms").reused
    # The reminder was made once, in the first round; the new plan did not run it again.
    assert [r for r in ran if r[2] == "create_reminder"] == [("q1", 2, "create_reminder")]
    assert len(mac.query("SELECT * FROM reminders WHERE name = 'Buy milk'")) == 1
    assert len(mac.query("SELECT * FROM outbox")) == 1


def test_at_most_one_replan_and_failed_calls_are_not_retried_blindly(world_path) -> None:
    mac, sched, ran = setup(world_path)
    decisions = 0

    async def scripted_decide(query, obs):
        nonlocal decisions
        decisions += 1
        return "replan"

    rounds = asyncio.run(run_rounds(sched, "q2", "text Zorblax", FIRST, decide=scripted_decide,
                                    replan=lambda rid, obs: FIRST))
    assert len(rounds) == 2 and decisions == 1
    # The same failing lookup is not sent to the Mac again: its first outcome stands.
    assert [r for r in ran if r[2] == "get_phone_number"] == [("q2", 1, "get_phone_number")]
    again = rounds[1].result.calls[0]
    assert again.state == "failed" and again.reused and "Zorblax" in again.error


def test_finish_and_success_end_after_one_round(world_path) -> None:
    mac, sched, _ = setup(world_path)
    calls = 0

    async def finish(query, obs):
        nonlocal calls
        calls += 1
        return "finish"

    failed = asyncio.run(run_rounds(sched, "q3", "x", FIRST, decide=finish, replan=lambda r, o: SECOND))
    assert len(failed) == 1 and failed[0].decision == "finish" and calls == 1
    ok = asyncio.run(run_rounds(sched, "q4", "x", SECOND, decide=finish, replan=lambda r, o: FIRST))
    assert len(ok) == 1 and ok[0].decision is None and calls == 1  # nothing failed: the model is not asked
    assert not needs_review(ok[0].result) and needs_review(failed[0].result)


def test_round_ids_map_back_to_the_request() -> None:
    assert round_id("abc", 0) == "abc" and round_id("abc", 1) == "abc~r1"
    assert origin_id("abc~r1") == "abc" and origin_id("abc") == "abc"


def test_observations_show_results_errors_and_skips(world_path) -> None:
    mac, sched, _ = setup(world_path)
    result = asyncio.run(sched.run("q5", FIRST))
    text = observations(result).splitlines()
    assert text[0].startswith('1. get_phone_number("Zorblax Quuxington") -> FAILED: ')
    assert text[1].startswith('2. create_reminder("Buy milk", "2026-11-24 00:00:00", "", "", 0, true) -> ok: ')
    assert text[2].startswith('3. send_sms(["$1"], "Running late") -> not run: ')


@pytest.mark.llm
def test_replan_with_a_real_model(world_path) -> None:
    """SmolLM2 decides and replans (its choices are its own); whatever it writes, no action
    is done twice and the answer says what happened."""
    from pippin.local import run_request
    from services.planner.llm import LlmPlanner, PlannerSettings

    planner = LlmPlanner(PlannerSettings(model="smollm2-135m", max_tokens=160, max_calls=6))
    assert planner.decide("text Zorblax", "1. get_phone_number(\"Zorblax\") -> FAILED: no contact") in (
        "finish", "replan")
    mac = SimulatedMac(":memory:", world_path)
    run = asyncio.run(run_request(planner, Executor(mac, Ledger()),
                                  "text Zorblax Quuxington that I am running late", "2026-11-23 09:00:00",
                                  llm_joiner=True))
    assert 1 <= len(run.rounds) <= 2
    actions = [(e.tool, json.dumps(e.structured, sort_keys=True)) for e in mac.effects()]
    assert len(actions) == len(set(actions)), actions
    data = run.to_json()
    assert data["answer"] and (data["replan"] is None) == (len(run.rounds) == 1)
