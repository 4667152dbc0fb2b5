"""Everything ZeroMQ, once: sockets (with CurveZMQ when configured), the skeleton every
stage runs on, and the requester that stages use to talk to each other.

Topology (see the README for the picture):
- each stage binds a ROUTER at its endpoint and serves requests from DEALER peers;
- the `bus` stage forwards PUB/SUB traffic (XSUB `bus_in` -> XPUB `bus_out`): ready
  announcements, heartbeats, cancels and traces, small messages that never queue
  behind audio (audio has a socket of its own, on the listener);
- a requester resends whatever is pending when its peer comes back as a new
  instance, which is safe because every stage is idempotent per request id."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
import zmq.auth
from zmq.auth.asyncio import AsyncioAuthenticator

from shared import wire
from shared.config import Config
from shared.runtime.tracing import Tracer
from shared.wire import Message, WireError, decode, encode, new_id

log = logging.getLogger("pippin.bus")
HEARTBEAT_S = 1.0
# The message types that travel as bus news; each under a topic that is its type's name, and
# news of another type under a topic is dropped as bad (a heartbeat's fields are read only
# from a heartbeat).
NEWS_TYPES = (wire.Ready, wire.Heartbeat, wire.Cancel, wire.Confirmed, wire.Trace, wire.Audio, wire.Transcript,
              wire.Result, wire.MacInventory, wire.Wake, wire.Speaking)
TOPIC_TYPES: dict[bytes, str] = {t.TYPE.encode(): t.TYPE for t in NEWS_TYPES}
TOPICS = tuple(TOPIC_TYPES)


def topic(news_type: type[wire.Payload]) -> bytes:
    """The bus topic a type of news travels under: its name."""
    return news_type.TYPE.encode()
BAD_LOG_EVERY_S = 10.0
# Requests a stage works on at once; more are refused with a clear "busy" error (counted as
# `shed` in status), so a flood of requests cannot grow a stage's memory without bound.
IN_FLIGHT_MAX = 256
KEEP_ANSWERS = 256  # finished requests of a `once` type whose answers a stage remembers
# Messages a socket queues per peer before it drops (PUB, ROUTER) or stops reading (SUB,
# DEALER): ZeroMQ's default made explicit; with frames at most 4 MB this bounds each queue.
HWM = 1000


_background: set[asyncio.Task[Any]] = set()


def spawn(coro: Any) -> asyncio.Task[Any]:
    """create_task that keeps a reference until the task ends (the loop holds only a weak one)."""
    task = asyncio.create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def ensure_keys(keys_dir: Path) -> None:
    """One server key pair (every stage's listening sockets) and one client key pair
    (every stage as a client); `authorized/` holds the client public keys let in."""
    if (keys_dir / "server.key_secret").exists() and (keys_dir / "client.key_secret").exists():
        return
    keys_dir.mkdir(parents=True, exist_ok=True)
    zmq.auth.create_certificates(str(keys_dir), "server")
    zmq.auth.create_certificates(str(keys_dir), "client")
    authorized = keys_dir / "authorized"
    authorized.mkdir(exist_ok=True)
    shutil.copy(keys_dir / "client.key", authorized / "client.key")


class Bus:
    """Socket factory for one process."""

    def __init__(self, config: Config, name: str, ctx: zmq.asyncio.Context | None = None) -> None:
        self.config = config
        self.name = name
        self.ctx = ctx or zmq.asyncio.Context()
        self._auth: AsyncioAuthenticator | None = None
        if config.transport == "ipc" or any(e.startswith("ipc://") for e in config.endpoints.values()):
            config.run_dir.mkdir(parents=True, exist_ok=True)

    def _server(self, sock: zmq.Socket[Any]) -> None:
        if not self.config.curve:
            return
        if self._auth is None:
            self._auth = AsyncioAuthenticator(self.ctx)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(self.config.keys_dir / "authorized"))
        public, secret = zmq.auth.load_certificate(str(self.config.keys_dir / "server.key_secret"))
        sock.curve_publickey, sock.curve_secretkey, sock.curve_server = public, secret, True

    def _client(self, sock: zmq.Socket[Any], keyfile: str = "client.key_secret") -> None:
        if not self.config.curve:
            return
        public, secret = zmq.auth.load_certificate(str(self.config.keys_dir / keyfile))
        server_public, _ = zmq.auth.load_certificate(str(self.config.keys_dir / "server.key"))
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server_public

    def _socket(self, kind: int) -> zmq.asyncio.Socket:
        sock = self.ctx.socket(kind)
        sock.linger = 0
        sock.sndhwm = sock.rcvhwm = HWM
        return sock

    def router(self, stage: str | None = None) -> zmq.asyncio.Socket:
        sock = self._socket(zmq.ROUTER)
        self._server(sock)
        sock.bind(self.config.bind_endpoint(stage or self.name))
        return sock

    def dealer(self, target: str) -> zmq.asyncio.Socket:
        sock = self._socket(zmq.DEALER)
        self._client(sock)
        sock.connect(self.config.endpoint(target))
        return sock

    def publisher(self) -> zmq.asyncio.Socket:
        sock = self._socket(zmq.PUB)
        self._client(sock)
        sock.connect(self.config.endpoint("bus_in"))
        return sock

    def subscriber(self, *topics: bytes) -> zmq.asyncio.Socket:
        sock = self._socket(zmq.SUB)
        self._client(sock)
        sock.connect(self.config.endpoint("bus_out"))
        for t in topics:
            sock.setsockopt(zmq.SUBSCRIBE, t)
        return sock

    def close(self) -> None:
        if self._auth is not None:
            self._auth.stop()
        self.ctx.destroy(linger=0)


class StageError(RuntimeError):
    """A peer stage failed to answer in time, or answered with an error."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.message = message


@dataclass
class _Pending:
    msg: Message
    queue: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    sends: int = 0
    sent_to: str | None = None  # the peer instance believed current when last sent


class BadInput:
    """Counts bad frames and logs them at most once per BAD_LOG_EVERY_S (a flood of garbage
    must not become a flood of log lines), with how many were left unsaid."""

    def __init__(self, where: str, stats: dict[str, Any] | None = None, key: str = "bad_frames") -> None:
        self.where = where
        self.stats = stats if stats is not None else {key: 0}
        self.key = key
        self.stats.setdefault(key, 0)
        self._last_log = 0.0
        self._unlogged = 0

    @property
    def count(self) -> int:
        return int(self.stats[self.key])

    def __call__(self, reason: str) -> None:
        self.stats[self.key] += 1
        now = time.monotonic()
        if now - self._last_log < BAD_LOG_EVERY_S:
            self._unlogged += 1
            return
        more = f" ({self._unlogged} more since the last report)" if self._unlogged else ""
        log.warning("%s: bad frame: %s%s", self.where, reason[:200], more)
        self._last_log, self._unlogged = now, 0


def read_news(frames: list[bytes]) -> tuple[bytes, Message]:
    """One bus message from its frames: [topic, message], the message of the topic's type."""
    if len(frames) != 2:
        raise WireError(f"bus news of {len(frames)} frames (expected topic and message)")
    topic, frame = frames
    expected = TOPIC_TYPES.get(topic)
    if expected is None:
        raise WireError(f"unknown topic {topic[:40]!r}")
    msg = decode(frame)
    if msg.type != expected:
        raise WireError(f"a {msg.type!r} message under topic {topic.decode()!r}", msg.request_id)
    return topic, msg


async def news(sub: zmq.asyncio.Socket, bad: BadInput | None = None) -> AsyncIterator[tuple[bytes, Message]]:
    """The messages arriving on a SUB socket, with their topics. Anything else (wrong
    frame count, unknown topic, not a valid message, a type the topic does not carry) is
    counted in `bad` and skipped: bus news is advisory, a bad one is not worth an answer."""
    bad = bad or BadInput(f"news on {sub}")
    while True:
        frames = await sub.recv_multipart()
        try:
            topic, msg = read_news(frames)
        except WireError as e:
            bad(e.reason)
            continue
        yield topic, msg


class Requester:
    """Requests to one stage and their replies, matched by key (the request id, or
    request id and call number). Pending requests are sent again when the stage
    announces a new instance; every request has a deadline."""

    def __init__(self, bus: Bus, target: str, *, terminal: set[str],
                 key: Callable[[Message], str] = lambda m: m.request_id) -> None:
        self.bus = bus
        self.target = target
        self.terminal = terminal | {"error"}
        self.key = key
        self.sock = bus.dealer(target)
        self.pending: dict[str, _Pending] = {}
        self.instance: str | None = None
        self.resends = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        bad = BadInput(f"{self.bus.name}: reply from {self.target}")
        while True:
            frames = await self.sock.recv_multipart()
            try:
                msg = decode(frames[-1])
                p = self.pending.get(self.key(msg))
            except (WireError, KeyError, TypeError) as e:  # KeyError: a reply without the key's fields
                bad(e.reason if isinstance(e, WireError) else f"{type(e).__name__}: {e}")
                continue
            if p is not None:
                p.queue.put_nowait(msg)

    async def _send(self, p: _Pending) -> None:
        p.sends += 1
        p.sent_to = self.instance
        await self.sock.send(encode(p.msg))

    def peer_ready(self, instance: str) -> None:
        """The target announced itself: resend what is pending and was not sent to it."""
        if instance == self.instance:
            return
        self.instance = instance
        for p in list(self.pending.values()):
            if p.sent_to == instance:
                continue
            # Sent to an instance that is gone, or before we knew which one was there: the
            # peer joins a request id it already has, so sending again is safe.
            self.resends += 1
            log.info("%s: %s restarted; resending %s %s", self.bus.name, self.target, p.msg.type, p.msg.request_id)
            spawn(self._send(p))

    async def tell(self, msg: Message) -> None:
        """Send a message that has no reply (an answer to a question the target asked)."""
        await self.sock.send(encode(msg))

    async def stream(self, msg: Message, *, timeout_s: float) -> AsyncIterator[Message]:
        """Send `msg`, yield its replies until a terminal one. StageError on timeout or error.
        Its replies are the ones with its key (the requester's `key` of `msg` itself)."""
        k = self.key(msg)
        p = _Pending(msg)
        self.pending[k] = p
        deadline = time.monotonic() + timeout_s
        try:
            await self._send(p)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StageError(self.target, f"no answer within {timeout_s:g} s")
                try:
                    reply = await asyncio.wait_for(p.queue.get(), left)
                except TimeoutError:
                    raise StageError(self.target, f"no answer within {timeout_s:g} s") from None
                if reply.type == "error":
                    error = wire.Error.from_event(reply)
                    raise StageError(error.stage or self.target, error.message)
                yield reply
                if reply.type in self.terminal:
                    return
        finally:
            self.pending.pop(k, None)

    async def call(self, msg: Message, *, timeout_s: float) -> Message:
        last = None
        async for reply in self.stream(msg, timeout_s=timeout_s):
            last = reply
        assert last is not None
        return last


class Request:
    """One request as a stage's handler sees it: the message, and replies that reach everyone
    who asked for it. The ROUTER identities of the askers stay in here."""

    def __init__(self, service: Service, ident: bytes, msg: Message) -> None:
        self.msg = msg
        self._service = service
        self._askers: list[tuple[bytes, Message]] = [(ident, msg)]
        self.kept: list[wire.Payload] = []  # replies a later asker gets too
        self.failed = False

    @property
    def body(self) -> dict[str, Any]:
        return self.msg.body

    @property
    def request_id(self) -> str:
        return self.msg.request_id

    async def reply(self, payload: wire.Payload, *, keep: bool = False) -> None:
        """To every asker. `keep`: part of the request's answer, so also sent to anyone who
        joins later and remembered for anyone who asks again after it has ended."""
        if keep:
            self.kept.append(payload)
        for ident, asked in list(self._askers):
            await self._service.send(ident, asked.reply(payload, self._service.name))

    async def error(self, message: str, stage: str | None = None) -> None:
        """The request failed: every asker is told; asking again runs it again."""
        self.failed = True
        s = self._service
        s.stats["errors"] += 1
        s.stats["last_error"] = message[:300]
        await self.reply(wire.Error(message, stage or s.name))

    async def _join(self, ident: bytes, msg: Message) -> None:
        if any(known == ident for known, _ in self._askers):
            # The same socket asking again (a requester resends what it sent before it knew
            # this instance): it already gets every reply, and a second entry would double them.
            return
        self._askers.append((ident, msg))
        for payload in list(self.kept):
            await self._service.send(ident, msg.reply(payload, self._service.name))


class Service:
    """The skeleton of a stage: a ROUTER for requests, a PUB for heartbeats, a SUB for
    ready/cancel news. Bad frames are counted, logged and answered, never fatal.
    Subclasses load their model in `load` (in a thread: heartbeats go on meanwhile)
    and answer in `handle`, which sees a `Request`, never a socket or an envelope.

    Requests of the types in `once` are done once per request id: asked again while one
    runs, the asker joins it (gets what was kept so far and every reply after); asked again
    after it ended, the kept replies come from memory (the last KEEP_ANSWERS). One that
    failed is run again. This is what makes resending safe after a restart."""

    name = "service"
    once: frozenset[str] = frozenset()

    def __init__(self, config: Config) -> None:
        self.config = config
        self.bus = Bus(config, self.name)
        self.instance = new_id()
        self.ready = False
        self.stats: dict[str, Any] = {"served": 0, "errors": 0, "bad_frames": 0, "bad_news": 0, "shed": 0,
                                      "in_flight": 0, "last_error": "", "broken": "", "started": time.time()}
        self.bad_frames = BadInput(f"{self.name} requests", self.stats, "bad_frames")
        self.bad_news = BadInput(f"{self.name} bus news", self.stats, "bad_news")
        self.requesters: list[Requester] = []
        self.tracer = Tracer(self.name, config.trace_dir)
        self.router: zmq.asyncio.Socket | None = None
        self.pub: zmq.asyncio.Socket | None = None
        self._running: dict[str, Request] = {}
        self._answered: OrderedDict[str, list[wire.Payload]] = OrderedDict()

    # ---- for subclasses ------------------------------------------------------------------
    def load(self) -> None:
        """Blocking setup (a model load). Runs in a thread before the stage is ready."""

    async def handle(self, request: Request) -> None:
        raise NotImplementedError

    def on_cancel(self, request_id: str) -> None:
        """A request was cancelled by the user."""

    def on_bus(self, msg: Message) -> None:
        """Any other bus news (heartbeats, traces) this stage subscribed to; its topic is its type."""

    def on_ready(self, stage: str) -> None:
        """A stage (re)started and is ready: a chance to tell it what it missed."""

    async def started(self) -> None:
        """Runs (as a task) once this stage is ready and has said so: work of its own on a timer."""

    def requester(self, target: str, *, terminal: set[str], key: Callable[[Message], str] | None = None) -> Requester:
        r = Requester(self.bus, target, terminal=terminal, **({"key": key} if key else {}))
        self.requesters.append(r)
        return r

    async def send(self, ident: bytes, msg: Message) -> None:
        assert self.router is not None
        t0 = time.monotonic()
        await self.router.send_multipart([ident, encode(msg)])
        self.tracer.record("send", msg.trace_id, msg.request_id, t0, time.monotonic() - t0, msg.type)

    async def error(self, ident: bytes, request_id: str, message: str) -> None:
        self.stats["errors"] += 1
        self.stats["last_error"] = message[:300]
        await self.send(ident, wire.Error(message, self.name).event(request_id, sender=self.name))

    async def publish(self, msg: Message) -> None:
        """News on the bus, under the topic that is its type's name."""
        assert self.pub is not None
        await self.pub.send_multipart([msg.type.encode(), encode(msg)])

    # ---- the loop ------------------------------------------------------------------------
    async def main(self) -> None:
        self.router = self.bus.router()
        self.pub = self.bus.publisher()
        sub = self.bus.subscriber(topic(wire.Ready), topic(wire.Heartbeat), topic(wire.Cancel), *self.extra_topics())
        for r in self.requesters:
            r.start()
        tasks = [asyncio.create_task(self._heartbeats()), asyncio.create_task(self._listen(sub))]
        tasks[1].add_done_callback(self._loop_ended)
        try:
            await asyncio.to_thread(self.load)
        except Exception as e:
            log.exception("%s failed to load", self.name)
            self.stats["last_error"] = f"load failed: {e}"
            await asyncio.sleep(HEARTBEAT_S * 2)  # let one heartbeat tell the gateway why
            raise
        self.ready = True
        log.info("%s ready (instance %s, pid %d)", self.name, self.instance, os.getpid())
        await self._announce()
        tasks.append(spawn(self.started()))
        try:
            await self._serve()
        finally:
            for t in tasks:
                t.cancel()

    def extra_topics(self) -> tuple[bytes, ...]:
        return ()

    def _loop_ended(self, task: asyncio.Task[None]) -> None:
        """The bus-news loop should never end; if it does, heartbeats say so (`broken`) and
        the watchdog restarts the stage: a stage deaf to restarts and cancels is not healthy."""
        if task.cancelled():
            return
        why = repr(task.exception()) if task.exception() is not None else "returned"
        log.error("%s: bus news loop ended: %s", self.name, why)
        self.stats["broken"] = f"bus news loop ended: {why}"[:300]

    async def _announce(self) -> None:
        # PUB drops messages until the subscription has propagated: say it a few times.
        for _ in range(3):
            await self.publish(wire.Ready(self.instance, os.getpid()).event(sender=self.name))
            await asyncio.sleep(0.2)

    async def _heartbeats(self) -> None:
        while True:
            beat = wire.Heartbeat(self.instance, os.getpid(), self.ready, self.stats)
            try:
                await self.publish(beat.event(sender=self.name))
            except zmq.ZMQError as e:
                log.warning("%s: heartbeat failed: %s", self.name, e)
            self.tracer.flush()
            await asyncio.sleep(HEARTBEAT_S)

    async def _listen(self, sub: zmq.asyncio.Socket) -> None:
        async for _, msg in news(sub, self.bad_news):
            try:
                self._on_news(msg)
            except Exception as e:  # a well-formed message this stage cannot use ends nothing
                self.bad_news(f"{msg.type} from {msg.sender!r} could not be used: {type(e).__name__}: {e}")

    def _on_news(self, msg: Message) -> None:
        peer: wire.Ready | wire.Heartbeat | None = (
            wire.Ready.from_event(msg) if wire.Ready.is_type(msg.type)
            else wire.Heartbeat.from_event(msg) if wire.Heartbeat.is_type(msg.type) else None)
        if peer is not None and getattr(peer, "ready", True):
            # Heartbeats carry the instance too, so a restart is noticed even by a
            # stage that missed the first announcement.
            for r in self.requesters:
                if r.target == msg.sender:
                    r.peer_ready(peer.instance)
        if wire.Ready.is_type(msg.type):
            self.on_ready(msg.sender)
        elif wire.Cancel.is_type(msg.type):
            self.on_cancel(msg.request_id)
        else:
            self.on_bus(msg)

    async def _serve(self) -> None:
        assert self.router is not None
        while True:
            frames = await self.router.recv_multipart()
            ident = frames[0]
            if len(frames) != 2:
                self.bad_frames(f"message of {len(frames)} frames")
                await self.error(ident, "", f"bad frame: expected one message frame, got {len(frames) - 1}")
                continue
            try:
                msg = decode(frames[1])
            except WireError as e:
                self.bad_frames(e.reason)
                await self.error(ident, e.request_id, f"bad frame: {e.reason}")
                continue
            now = time.monotonic()
            self.tracer.record("recv", msg.trace_id, msg.request_id, msg.mono, max(0.0, now - msg.mono),
                               f"{msg.type} from {msg.sender}")
            if self.stats["in_flight"] >= IN_FLIGHT_MAX:
                self.stats["shed"] += 1
                busy = wire.Error(f"{self.name} is busy ({IN_FLIGHT_MAX} requests in flight); try again shortly",
                                  self.name)
                await self.send(ident, msg.reply(busy, self.name))
                continue
            self.stats["in_flight"] += 1
            spawn(self._guarded(ident, msg))

    async def _guarded(self, ident: bytes, msg: Message) -> None:
        once = msg.type in self.once
        try:
            if once:
                if not msg.request_id:  # the first stage to see a request names it
                    msg = Message(msg.type, msg.body, new_id(), msg.trace_id or new_id(), msg.sender)
                answered = self._answered.get(msg.request_id)
                if answered is not None:
                    for payload in answered:
                        await self.send(ident, msg.reply(payload, self.name))
                    return
                running = self._running.get(msg.request_id)
                if running is not None:
                    await running._join(ident, msg)
                    return
            request = Request(self, ident, msg)
            if once:
                self._running[msg.request_id] = request
            try:
                with self.tracer.span("work", msg.trace_id, msg.request_id, msg.type):
                    await self.handle(request)
                self.stats["served"] += 1
            except StageError as e:
                await request.error(str(e))
            except Exception as e:
                log.exception("%s: %s failed", self.name, msg.type)
                await request.error(f"{self.name} failed on {msg.type}: {type(e).__name__}: {e}")
            finally:
                if once:
                    if not request.failed:  # remembered before it stops being joinable: no gap
                        self._answered[msg.request_id] = request.kept
                        while len(self._answered) > KEEP_ANSWERS:
                            self._answered.popitem(last=False)
                    self._running.pop(msg.request_id, None)
        finally:
            self.stats["in_flight"] -= 1


def run_service(factory: Callable[[Config], Service]) -> None:
    """Entry point of a stage process: `python -m services.NAME`."""
    from shared import config as config_mod

    logging.basicConfig(level=os.environ.get("PIPPIN_LOG", "INFO"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    service = factory(config_mod.load())
    try:
        asyncio.run(service.main())
    except KeyboardInterrupt:
        pass
    finally:
        service.tracer.close()
        service.bus.close()
