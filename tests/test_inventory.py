"""The Mac's names reach the planner's grounding from the executor that drives that Mac:
published on the bus when the executor is ready, when the planner (re)starts, after a call
that makes a note, and on a timer. Stages run in this process over real sockets (tests/harness.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.executor.__main__ import ExecutorService
from services.planner.__main__ import PlannerService
from services.planner.grounding import Inventory, ground
from shared import config as config_mod
from shared import paths
from shared.wire import Message
from tests.harness import StageHarness

NOW = "2026-11-24 09:00:00"


def create_note(request_id: str, name: str, content: str, folder: str) -> Message:
    return Message("execute", {"idx": 1, "tool": "create_note", "args": [name, content, folder], "deliver": False},
                   request_id, sender="scheduler")


def test_the_executor_says_what_the_mac_has_when_ready_and_again_after_a_new_note(tmp_path: Path) -> None:
    async def go() -> None:
        async with StageHarness(ExecutorService, tmp_path, topics=(b"inventory",)) as executor:
            first = await executor.news(b"inventory")
            assert first.body["calendars"] == ["Home", "Work", "Family"]  # the world's order: Home is the default
            assert {"Groceries", "Standup Notes"} <= set(first.body["notes"])
            assert "Sid Jha" in first.body["contacts"] and first.body["timezone"] == "America/Los_Angeles"
            assert "Espresso" not in first.body["notes"]
            done = await executor.ask(create_note("r1", "Espresso", "try the new place on Hayes", "Coffee"))
            assert done[-1].type == "outcome" and done[-1].body["ok"], done[-1].body
            after = await executor.ask(create_note("r1", "Espresso", "try the new place on Hayes", "Coffee"))
            assert after[-1].body["replayed"]  # asked twice: done once
            news = await executor.news(b"inventory")
            assert "Espresso" in news.body["notes"] and "Coffee" in news.body["note_folders"]

    asyncio.run(go())


def test_a_planner_that_restarts_is_told_the_names_again(tmp_path: Path) -> None:
    async def go() -> None:
        async with StageHarness(ExecutorService, tmp_path, topics=(b"inventory",)) as executor:
            await executor.news(b"inventory")
            await executor.publish(b"ready", Message("ready", {"instance": "p2", "pid": 1}, sender="planner"))
            again = await executor.news(b"inventory")
            assert "Work" in again.body["calendars"]

    asyncio.run(go())


def planner_with_grounding(tmp_path: Path) -> tuple[PlannerService, SimpleNamespace]:
    """The planner stage around a stand-in for its model's planner (only its settings are read
    here: loading the model is not what is tested)."""
    service = PlannerService(config_mod.load(paths.CONFIG_DIR / "pippin.toml", tmp_path / "run"))
    settings = SimpleNamespace(inventory=None)
    service.planner = SimpleNamespace(settings=settings)  # type: ignore[assignment]
    return service, settings


def inventory_news(**over: object) -> Message:
    body = {"calendars": ["Home", "Soccer"], "reminder_lists": ["Reminders"], "note_folders": ["Notes", "Coffee"],
            "notes": ["Espresso"], "contacts": ["Sid Jha", "Maya Patel"], "timezone": ""}
    body.update(over)
    return Message("inventory", body, sender="executor")


def test_the_planner_grounds_in_the_names_the_executor_sent(tmp_path: Path) -> None:
    service, settings = planner_with_grounding(tmp_path)
    service._on_news(inventory_news())
    assert isinstance(settings.inventory, Inventory)
    g = ground("put practice on my soccer calendar and add beans to my espresso note for sid", NOW, settings.inventory)
    assert g.calendars == ("Soccer",)
    assert ("espresso", "Espresso") in g.notes and ("sid", "Sid Jha") in g.people
    assert service.stats["inventory"]["contacts"] == 2


@pytest.mark.parametrize("bad", [{"notes": [3]}, {"contacts": [""]}, {"calendars": [None]}])
def test_names_that_are_not_text_are_bad_news_and_change_nothing(tmp_path: Path, bad: dict[str, object]) -> None:
    service, settings = planner_with_grounding(tmp_path)
    service._on_news(inventory_news())
    before = settings.inventory
    with pytest.raises(ValueError, match="must be names"):
        service._on_news(inventory_news(**bad))  # _listen counts it as bad news
    assert settings.inventory is before


def test_as_each_minute_turns_an_idle_planner_warms_the_new_time_and_a_busy_one_does_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage's side of warming (the warming itself is tested on a model in test_planner):
    a stand-in records what it is asked to warm; the stage's minute is made 0.2 s long."""
    service = PlannerService(config_mod.load(paths.CONFIG_DIR / "pippin.toml", tmp_path / "run"))
    asked: list[tuple[str, str]] = []
    service.planner = SimpleNamespace(prefill=lambda r: asked.append((r.query, r.now)) or 0)  # type: ignore[assignment]
    service.warm_each_s = 0.2
    minutes = iter(f"2026-11-24 09:{m:02d}:00" for m in range(60))
    monkeypatch.setattr(service.config, "request_now", lambda: next(minutes))

    async def go() -> None:
        ticking = asyncio.create_task(service.started())
        await asyncio.sleep(1.6)  # each wait is 0.5-0.7 s: at least two turns
        assert len(asked) >= 2 and all(words == "" for words, _ in asked), asked
        assert asked[0][1] != asked[1][1]  # each turn warms the time it is then
        async with service._one_at_a_time:  # a plan is being made: no warming beside it
            before = len(asked)
            await asyncio.sleep(1.5)
            assert len(asked) == before
        ticking.cancel()

    asyncio.run(go())
    service.warm_each_s = 0.0  # [planner] warm_each_minute = false
    asyncio.run(asyncio.wait_for(service.started(), 1))
