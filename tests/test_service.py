"""The Service skeleton's request idempotency, once for every stage: a request asked again
while it runs is joined, one asked after it ended is answered from memory, one that failed
runs again; every asker gets every reply. One stage in this process over real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import zmq.asyncio

from shared import wire
from shared.config import Config
from shared.runtime.bus import Request, Service
from shared.wire import Message, decode, encode
from tests.harness import StageHarness


class SlowCounter(Service):
    """A 12-line worker: it never sees a socket or an envelope."""

    name = "retrieval"  # any stage's endpoint will do
    once = frozenset({"retrieve"})

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.runs: list[str] = []

    async def handle(self, request: Request) -> None:
        self.runs.append(wire.Retrieve.from_event(request.msg).text)
        if self.runs[-1] == "fail":
            raise RuntimeError("asked to fail")
        await asyncio.sleep(0.3)
        text = wire.Retrieve.from_event(request.msg).text
        await request.reply(wire.Retrieved([text], []), keep=True)


def ask(rid: str, text: str) -> Message:
    return wire.Retrieve(text).event(rid, sender="test")


def test_a_request_asked_again_while_it_runs_is_joined_and_done_once(tmp_path: Path) -> None:
    async def go() -> None:
        async with StageHarness(SlowCounter, tmp_path) as stage:
            other = stage.client.dealer("retrieval")  # a second asker, on a socket of its own
            await other.send(encode(ask("r1", "sid")))
            first, second = await asyncio.gather(stage.ask(ask("r1", "sid")), _recv_one(other))
            assert first[-1].body["tools"] == ["sid"] and second.body["tools"] == ["sid"]
            assert stage.service.runs == ["sid"]

    asyncio.run(go())


def test_a_request_sent_again_on_the_same_socket_while_it_runs_is_answered_once(tmp_path: Path) -> None:
    """A requester resends what it sent before it knew the stage's instance: the stage must
    not count that socket twice among the askers, or every reply would reach it twice."""
    async def go() -> None:
        async with StageHarness(SlowCounter, tmp_path) as stage:
            await stage.dealer.send(encode(ask("r1", "sid")))
            replies = await stage.ask(ask("r1", "sid"))
            assert [r.type for r in replies] == ["retrieved"]
            try:
                extra = decode(await asyncio.wait_for(stage.dealer.recv(), 1.0))
            except TimeoutError:
                extra = None
            assert extra is None, f"a second copy arrived: {extra}"
            assert stage.service.runs == ["sid"]

    asyncio.run(go())


async def _recv_one(sock: zmq.asyncio.Socket) -> Message:
    return decode(await asyncio.wait_for(sock.recv(), 10))


def test_a_request_asked_after_it_ended_is_answered_from_memory(tmp_path: Path) -> None:
    async def go() -> None:
        async with StageHarness(SlowCounter, tmp_path) as stage:
            await stage.ask(ask("r1", "maya"))
            again = await stage.ask(ask("r1", "maya"))
            assert again[-1].type == "retrieved" and again[-1].body["tools"] == ["maya"]
            assert again[-1].request_id == "r1"
            assert stage.service.runs == ["maya"]
            await stage.ask(ask("r2", "maya"))  # another request id is another request
            assert stage.service.runs == ["maya", "maya"]

    asyncio.run(go())


def test_a_request_that_failed_runs_again_when_asked_again(tmp_path: Path) -> None:
    async def go() -> None:
        async with StageHarness(SlowCounter, tmp_path) as stage:
            failed = await stage.ask(ask("r1", "fail"))
            assert failed[-1].type == "error" and "asked to fail" in failed[-1].body["message"]
            await stage.ask(ask("r1", "fail"))
            assert stage.service.runs == ["fail", "fail"]
            assert stage.service.stats["errors"] == 2

    asyncio.run(go())


def test_a_request_without_an_id_is_given_one(tmp_path: Path) -> None:
    async def go() -> None:
        async with StageHarness(SlowCounter, tmp_path) as stage:
            replies = await stage.ask(ask("", "kurt"))
            assert replies[-1].request_id and replies[-1].trace_id

    asyncio.run(go())


def test_the_scheduler_refuses_a_run_that_claims_an_action_was_done_early(tmp_path: Path) -> None:
    """Only silent lookups may run from a speculative plan: a `run` saying a message was
    already sent would skip sending it, so it is refused with an error that names them."""
    from services.scheduler.__main__ import SchedulerService

    async def go() -> None:
        async with StageHarness(SchedulerService, tmp_path) as stage:
            known = [{"tool": "send_sms", "args": [["+1 555 0100"], "hi"], "ok": True, "value": "sent"}]
            run = wire.Run("text Sid hi", "2026-11-23 09:00:00", [], [], "", None, known).event("r1", sender="test")
            replies = await stage.ask(run)
            assert replies[-1].type == "error" and "get_phone_number" in replies[-1].body["message"], replies

    asyncio.run(go())
