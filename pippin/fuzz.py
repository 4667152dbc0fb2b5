"""Malformed frames for a running pipeline: at every stage's request socket and on the bus
under every topic. Used by the tests (a few thousand frames) and `make bench` (100,000).

Every kind of bad input a peer could send is made here: random bytes, msgpack that is not a
map, envelopes with fields missing or mistyped, unknown types, bodies of the wrong shape,
a valid message under a topic that carries another type, invalid UTF-8, empty, extra and
missing frames, and frames of a few megabytes. None is a valid request, so nothing here
can cause an effect on the Mac."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

from shared.config import REQUEST_STAGES, Config
from shared.runtime.bus import TOPIC_TYPES
from shared.wire import PAYLOADS, VERSION

STAGES = REQUEST_STAGES
BIG = 3 * 1024 * 1024


def _envelope(rng: random.Random, **over: Any) -> dict[str, Any]:
    env: dict[str, Any] = {"v": VERSION, "type": rng.choice(sorted(PAYLOADS)), "rid": f"fuzz-{rng.randrange(10**9)}",
                           "tid": "", "from": "fuzz", "mono": 0.0, "wall": 0.0, "body": {}}
    env.update(over)
    return env


def _junk(rng: random.Random, depth: int = 0) -> Any:
    """A random msgpack-able value."""
    kinds = ["int", "str", "bytes", "float", "none", "bool"] + (["list", "map"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 2**63 - 1, rng.randrange(-1000, 1000)])
    if kind == "str":
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(12)))
    if kind == "bytes":
        return rng.randbytes(rng.randrange(16))
    if kind == "float":
        return rng.choice([0.5, float("nan"), float("inf"), -1e308])
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(_junk(rng, depth + 1)): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def _required(kind: str) -> list[str]:
    return sorted(name for name, (_, optional) in PAYLOADS[kind].items() if not optional)


WRONG: dict[type, Any] = {str: 1, int: "1", bool: "yes", list: "x", dict: "x", bytes: 1, float: "x"}


def _mistyped_body(rng: random.Random, kind: str) -> Any:
    """A body for `kind` with one required field missing or of the wrong type (or, for a type
    with none, a body that is not a map)."""
    required = _required(kind)
    if not required:
        return rng.choice([[1], "body", 7])
    body = {name: _junk(rng) for name in PAYLOADS[kind]}
    victim = rng.choice(required)
    if rng.random() < 0.5:
        del body[victim]
    else:
        body[victim] = WRONG[PAYLOADS[kind][victim][0]]
    return body


def _invalid_utf8(rng: random.Random) -> bytes:
    """An envelope whose type string is not UTF-8: msgpack's str header around bad bytes."""
    packed = msgpack.packb(_envelope(rng, type="XXXX"), use_bin_type=True)
    return packed.replace(b"\xa4XXXX", b"\xa4\xff\xfe\xc0\x80", 1)


def bad_message(rng: random.Random) -> bytes:
    """One frame that is not a valid message."""
    pick = rng.randrange(11)
    if pick == 0:
        return rng.randbytes(rng.randrange(1, 64))
    if pick == 1:
        return msgpack.packb(rng.choice([[1, 2], 7, "ask", None, b"raw", 1.5]))
    if pick == 2:
        return msgpack.packb(_envelope(rng, v=rng.choice([0, 2, 99, "1", None])))
    if pick == 3:
        return msgpack.packb(_envelope(rng, type=rng.choice(["launch_rockets", "", 42, None])))
    if pick == 4:
        env = _envelope(rng)
        del env[rng.choice(["rid", "tid", "from", "mono", "wall", "body", "type"])]
        return msgpack.packb(env)
    if pick == 5:
        return msgpack.packb(_envelope(rng, **{rng.choice(["rid", "tid", "from"]): rng.choice([1, None, [], b"x"]),
                                               "mono": rng.choice(["now", None, True, 0.0])}))
    if pick == 6:
        kind = rng.choice(sorted(PAYLOADS))
        return msgpack.packb(_envelope(rng, type=kind, body=_mistyped_body(rng, kind)), use_bin_type=True)
    if pick == 7:
        return _invalid_utf8(rng)
    if pick == 8:  # big frames are few: each costs every subscriber a 3 MB copy
        return rng.randbytes(BIG) if rng.random() < 0.05 else b""
    if pick == 9:
        return msgpack.packb(_junk(rng))
    # a random body for a type that has required fields: a map of junk keys lacks them
    kind = rng.choice([k for k in sorted(PAYLOADS) if _required(k)])
    return msgpack.packb(_envelope(rng, type=kind, body=_junk(rng)), use_bin_type=True)


def _valid(kind: str, rng: random.Random) -> bytes:
    """A well-formed message of `kind` with filler values (for the wrong-topic case)."""
    body: dict[str, Any] = {}
    for name, (t, _) in PAYLOADS[kind].items():
        body[name] = {str: "fuzz", int: 0, bool: False, list: [], dict: {}, bytes: b"", float: 0.0}[t]
    return msgpack.packb(_envelope(rng, type=kind, body=body), use_bin_type=True)


def request_frames(rng: random.Random) -> list[bytes]:
    """What a DEALER sends to a stage: one bad message, or the wrong number of frames."""
    pick = rng.randrange(10)
    if pick == 0:
        return [bad_message(rng), bad_message(rng)]
    if pick == 1:
        return [b"", bad_message(rng), b"extra"]
    return [bad_message(rng)]


def bus_frames(rng: random.Random) -> list[bytes]:
    """What a publisher puts on the bus: [topic, message] of which something is wrong."""
    topic = rng.choice(list(TOPIC_TYPES))
    pick = rng.randrange(10)
    if pick == 0:  # a valid message, but not the type its topic carries
        wrong = rng.choice([k for k in sorted(PAYLOADS) if k != TOPIC_TYPES[topic]])
        return [topic, _valid(wrong, rng)]
    if pick == 1:
        return [topic]
    if pick == 2:
        return [topic, bad_message(rng), b"extra"]
    if pick == 3:  # a topic only a prefix of which is subscribed to
        return [topic + rng.choice([b"x", b"\xff", b"_fuzz"]), bad_message(rng)]
    return [topic, bad_message(rng)]


@dataclass
class FuzzReport:
    sent_requests: int = 0
    sent_news: int = 0
    replies: int = 0
    unanswered: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz(config: Config, n: int, *, seed: int = 0, stages: tuple[str, ...] = STAGES,
         frames: Iterator[list[bytes]] | None = None,
         on_reply: Callable[[str, bytes], None] | None = None) -> FuzzReport:
    """Send `n` bad inputs, half to the stages' request sockets (each must be answered within
    5 s) and half onto the bus. `frames`, when given, supplies the request frames instead
    of the seeded generator (the tests pass hypothesis-made ones)."""
    rng = random.Random(seed)
    report = FuzzReport()
    t0 = time.monotonic()
    ctx = zmq.Context()
    try:
        dealers = {}
        for stage in stages:
            sock = ctx.socket(zmq.DEALER)
            sock.linger = 0
            sock.connect(config.endpoint(stage))
            dealers[stage] = sock
        pub = ctx.socket(zmq.PUB)
        pub.linger = 0
        pub.sndhwm = 100_000
        pub.connect(config.endpoint("bus_in"))
        time.sleep(0.3)  # the forwarder learns of the publisher
        for i in range(n):
            if i % 2 == 0:
                stage = stages[(i // 2) % len(stages)]
                out = next(frames) if frames is not None else request_frames(rng)
                dealers[stage].send_multipart(out)
                report.sent_requests += 1
                if not dealers[stage].poll(5000):
                    report.unanswered.append(f"{stage}: {[f[:40] for f in out]!r}")
                    continue
                reply = dealers[stage].recv_multipart()[-1]
                report.replies += 1
                if on_reply:
                    on_reply(stage, reply)
            else:
                pub.send_multipart(bus_frames(rng))
                report.sent_news += 1
        time.sleep(0.5)  # the last news reaches the subscribers before anyone asks for status
    finally:
        ctx.destroy(linger=0)
    report.seconds = time.monotonic() - t0
    return report
