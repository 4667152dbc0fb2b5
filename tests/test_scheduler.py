"""The scheduler with the real simulated Mac behind the real ledger."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from services.executor.ledger import Executor, Ledger
from services.executor.simmac import SimulatedMac
from services.scheduler.engine import CallEvent, Policy, Scheduler, SchedulerSettings
from services.scheduler.graph import PlanGraph, State
from services.scheduler.joiner import answer
from shared.plan import Call, parse_plan


def make(world_path, latency=None, **settings):
    mac = SimulatedMac(":memory:", world_path, latency_s=latency or {})
    executor = Executor(mac, Ledger())
    events: list[CallEvent] = []

    async def execute(rid, idx, tool, args, deliver):
        return await asyncio.to_thread(executor.execute, rid, idx, tool, args, deliver=deliver)

    confirm = settings.pop("confirm", None)
    sched = Scheduler(execute, SchedulerSettings(**settings), confirm=confirm, on_event=events.append)
    return mac, sched, events


async def slow_stream(calls: list[Call], gap: float, marks: dict[int, float]) -> AsyncIterator[Call]:
    for c in calls:
        marks[c.idx] = time.perf_counter()
        yield c
        await asyncio.sleep(gap)


PLAN = parse_plan(
    '1. get_phone_number("Sid")\n2. get_phone_number("Suhong")\n'
    '3. send_sms(["$1", "$2"], "Standup is moved to 10.")\n'
    '4. create_reminder("Prep standup", "2026-11-24 09:00:00", "", "", 0, False)\n5. join()'
)


def test_a_call_starts_before_the_plan_is_finished(world_path) -> None:
    mac, sched, events = make(world_path)
    marks: dict[int, float] = {}
    result = asyncio.run(sched.run("r1", slow_stream(PLAN, 0.15, marks)))
    assert result.ok, result
    first = next(c for c in result.calls if c.idx == 1)
    assert first.finished < marks[5]  # call 1 done before join() was even written
    assert first.started < marks[2]  # and started before call 2 existed


def test_independent_calls_overlap_in_time(world_path) -> None:
    mac, sched, _ = make(world_path, latency={"Contacts": 0.3})
    t0 = time.perf_counter()
    result = asyncio.run(sched.run("r2", PLAN))
    a, b = result.calls[0], result.calls[1]
    assert a.started < b.finished and b.started < a.finished  # the intervals intersect
    assert time.perf_counter() - t0 < 0.55  # two 0.3 s lookups side by side, not 0.6 s in a row
    sms = result.calls[2]
    assert sms.started >= max(a.finished, b.finished)
    assert sms.args[0] == ["+14155550115", "+14155550114"]


def test_ui_apps_take_one_call_at_a_time(world_path) -> None:
    mac, sched, _ = make(world_path, latency={"Messages": 0.15})
    plan = parse_plan('1. send_sms(["+14155550115"], "a")\n2. send_sms(["+14155550114"], "b")\n3. join()')
    result = asyncio.run(sched.run("r3", plan))
    a, b = result.calls
    assert result.ok and (a.finished <= b.started or b.finished <= a.started)


def test_a_failure_skips_only_its_dependents(world_path) -> None:
    mac, sched, events = make(world_path)
    plan = parse_plan(
        '1. get_phone_number("Bob Dylan")\n2. send_sms(["$1"], "hi")\n'
        '3. create_note("Trip", "Pack", "")\n4. join()'
    )
    result = asyncio.run(sched.run("r4", plan))
    states = {c.idx: c.state for c in result.calls}
    assert states == {1: "failed", 2: "skipped", 3: "done"}
    text = answer(result)
    assert "no contact named 'Bob Dylan'" in text and "because call 1 (get_phone_number) did not succeed" in text
    assert [e.kind for e in mac.effects()] == ["note_create"]


def test_the_same_request_id_never_acts_twice(world_path) -> None:
    mac, sched, _ = make(world_path)
    first = asyncio.run(sched.run("same", PLAN))
    effects = mac.effects()
    again = asyncio.run(sched.run("same", PLAN))
    assert mac.effects() == effects  # effects log unchanged
    assert [c.value for c in again.calls] == [c.value for c in first.calls]
    other = asyncio.run(sched.run("other", PLAN))
    assert other.ok and len(mac.effects()) == 2 * len(effects)


def test_a_call_started_before_a_crash_is_not_repeated(world_path) -> None:
    mac = SimulatedMac(":memory:", world_path)
    ledger = Ledger()
    ledger.begin("crashed", 1, "send_sms", (["+14155550115"], "hi"))  # started, never finished
    out = Executor(mac, ledger).execute("crashed", 1, "send_sms", (["+14155550115"], "hi"))
    assert not out.ok and "not repeating it" in out.value and mac.effects() == []


def test_timeout(world_path) -> None:
    mac, sched, _ = make(world_path, latency={"Maps": 0.5}, call_timeout_s=0.1)
    result = asyncio.run(sched.run("r5", parse_plan('1. maps_open_location("SFO")\n2. join()')))
    assert result.calls[0].state == "failed" and "timed out after 0.1 s" in result.calls[0].error


def test_cancel_stops_what_has_not_started(world_path) -> None:
    mac, sched, _ = make(world_path, latency={"Contacts": 0.3})

    async def go():
        task = asyncio.create_task(sched.run("r6", PLAN))
        await asyncio.sleep(0.05)
        assert sched.cancel("r6")
        return await task

    result = asyncio.run(go())
    assert result.cancelled
    assert {c.idx: c.state for c in result.calls}[3] == "skipped"
    assert not any(e.kind == "sms" for e in mac.effects())
    assert "cancelled" in answer(result)


@pytest.mark.parametrize("policy,agree,status", [
    (Policy.DRAFT, None, "draft"), (Policy.AUTO, None, "sent"),
    (Policy.CONFIRM, True, "sent"), (Policy.CONFIRM, False, None),
])
def test_confirmation_policy(world_path, policy, agree, status) -> None:
    asked = []

    async def confirm(rid, call, args):
        asked.append((call.tool, args))
        return agree

    mac, sched, _ = make(world_path, policy=policy, confirm=confirm)
    result = asyncio.run(sched.run("r7", PLAN))
    rows = mac.query("SELECT status FROM outbox")
    assert [r["status"] for r in rows] == ([status] if status else [])
    assert (asked != []) == (policy is Policy.CONFIRM)
    if policy is Policy.CONFIRM:
        assert asked == [("send_sms", (["+14155550115", "+14155550114"], "Standup is moved to 10."))]
    if agree is False:
        assert "you did not confirm" in answer(result)


def test_out_of_order_stream_and_invalid_calls(world_path) -> None:
    mac, sched, _ = make(world_path)
    calls = [PLAN[2], PLAN[0], Call(4, "launch_rockets", ()), PLAN[1], Call(5, "join", ())]
    result = asyncio.run(sched.run("r8", calls))
    states = {c.idx: c.state for c in result.calls}
    assert states == {1: "done", 2: "done", 3: "done", 4: "failed"}
    assert "unknown tool 'launch_rockets'" in result.calls[3].error


def test_incomplete_and_broken_plans(world_path) -> None:
    mac, sched, _ = make(world_path)
    result = asyncio.run(sched.run("r9", PLAN[:2]))  # the planner died before join()
    assert result.plan_errors == ["the plan ended without join()"]
    assert all(c.state == "done" for c in result.calls)

    async def broken():
        yield PLAN[0]
        raise RuntimeError("planner crashed")

    result = asyncio.run(sched.run("r10", broken()))
    assert "the plan stream broke: RuntimeError: planner crashed" in result.plan_errors[0]
    result = asyncio.run(sched.run("r11", [PLAN[0], PLAN[0]]))
    assert "call 1: call 1 arrived twice" in result.plan_errors
    result = asyncio.run(sched.run("r12", [PLAN[0], Call(3, "join", ())]))
    assert "calls 2 never arrived" in result.plan_errors


def test_decline_answer(world_path) -> None:
    mac, sched, _ = make(world_path)
    result = asyncio.run(sched.run("r13", parse_plan("1. join()")))
    assert result.ok and "can't do" in answer(result)


def test_lookup_answer(world_path) -> None:
    mac, sched, _ = make(world_path)
    result = asyncio.run(sched.run("r14", parse_plan('1. get_phone_number("Sid")\n2. join()')))
    assert answer(result) == "The number for Sid is +14155550115."


def test_graph_unit() -> None:
    g = PlanGraph()
    p = g.add(Call(2, "send_sms", (["$1"], "x")))
    assert p.ready == []
    p = g.add(Call(1, "get_phone_number", ("a",)))
    assert [c.idx for c in p.ready] == [1]
    g.start(1, 0.0)
    p = g.finish(1, result="+1555", at=1.0)
    assert [c.idx for c in p.ready] == [2]
    assert g.resolved_args(g.nodes[2].call) == (["+1555"], "x")
    g.add(Call(3, "join", ()))
    assert not g.complete
    g.start(2, 1.0)
    g.finish(2, error="boom")
    assert g.complete and g.nodes[2].state is State.FAILED


def test_zoom_link_is_named_in_the_answer(world_path) -> None:
    mac, sched, _ = make(world_path)
    plan = parse_plan('1. get_zoom_meeting_link("Sync", "2026-11-25 11:00:00", 60, [])\n'
                      '2. create_calendar_event("Sync", "2026-11-25 11:00:00", "2026-11-25 12:00:00", "$1", [], "", "")'
                      "\n3. join()")
    text = answer(asyncio.run(sched.run("z", plan)))
    assert text.startswith("Zoom meeting created: https://zoom.us/j/")
    assert "Created 'Sync' on Home, 2026-11-25 11:00:00 to 2026-11-25 12:00:00." in text


def test_policy_per_request_and_cancel_on_the_same_engine(world_path) -> None:
    mac, sched, _ = make(world_path, latency={"Contacts": 0.3})  # engine default: draft
    result = asyncio.run(sched.run("p-auto", PLAN, policy=Policy.AUTO))
    assert result.ok and [r["status"] for r in mac.query("SELECT status FROM outbox")] == ["sent"]

    async def go():
        task = asyncio.create_task(sched.run("p-cancel", PLAN, policy=Policy.AUTO))
        await asyncio.sleep(0.05)
        assert sched.cancel("p-cancel")  # the engine that runs it is the one asked
        return await task

    assert asyncio.run(go()).cancelled
    assert len(mac.query("SELECT status FROM outbox")) == 1
