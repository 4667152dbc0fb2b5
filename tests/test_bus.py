"""The bus's defences, without processes: news is read only as its topic's type, bad input
is counted and logged at a bounded rate, and the fuzzer never makes a valid message."""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path

import pytest

from pippin.fuzz import bad_message, bus_frames, request_frames
from shared import config as config_mod
from shared import paths
from shared.runtime.bus import BadInput, Service, read_news
from shared.wire import Message, WireError, decode, encode


def heartbeat(**over: object) -> Message:
    body = {"instance": "i1", "pid": 1, "ready": True, "stats": {}}
    body.update(over)
    return Message("heartbeat", body, sender="planner")


def test_news_is_read_as_the_type_its_topic_carries() -> None:
    topic, msg = read_news([b"heartbeat", encode(heartbeat())])
    assert topic == b"heartbeat" and msg.body["instance"] == "i1"
    ready = encode(Message("ready", {"instance": "i2", "pid": 2}, sender="planner"))
    with pytest.raises(WireError, match="a 'ready' message under topic 'heartbeat'"):
        read_news([b"heartbeat", ready])


@pytest.mark.parametrize("frames,reason", [
    ([b"heartbeat"], "1 frames"),
    ([b"heartbeat", b"x", b"y"], "3 frames"),
    ([b"hbx", encode(heartbeat())], "unknown topic"),
    ([b"heartbeat", b"\xc1"], "not msgpack"),
])
def test_bad_news_says_why(frames: list[bytes], reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        read_news(frames)


def test_bad_input_counts_every_frame_but_logs_at_a_bounded_rate(caplog: pytest.LogCaptureFixture) -> None:
    stats: dict[str, object] = {}
    bad = BadInput("test", stats, "bad_news")
    with caplog.at_level(logging.WARNING, "pippin.bus"):
        for n in range(1000):
            bad(f"frame {n}")
    assert stats["bad_news"] == 1000 and bad.count == 1000
    assert len(caplog.records) == 1 and "frame 0" in caplog.records[0].getMessage()


def test_the_fuzzer_never_makes_a_valid_message() -> None:
    rng = random.Random(3)
    for _ in range(3000):
        with pytest.raises(WireError):
            decode(bad_message(rng))
        with pytest.raises(WireError):
            read_news(bus_frames(rng))
        frames = request_frames(rng)
        if len(frames) == 1:
            with pytest.raises(WireError):
                decode(frames[0])


def test_a_stage_whose_news_loop_ends_says_so_in_its_heartbeat(tmp_path: Path) -> None:
    """The loop cannot end for real any more (every error is caught), so a task that fails is
    handed to the callback that watches it: a fake failure, named as one."""
    service = Service(config_mod.load(paths.CONFIG_DIR / "pippin.toml", tmp_path / "run"))

    async def fails() -> None:
        raise RuntimeError("fake: the socket went away")

    async def go() -> None:
        task = asyncio.create_task(fails())
        await asyncio.gather(task, return_exceptions=True)
        service._loop_ended(task)

    try:
        asyncio.run(go())
    finally:
        service.bus.close()
    assert "bus news loop ended" in service.stats["broken"] and "socket went away" in service.stats["broken"]
