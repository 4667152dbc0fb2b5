"""The one message envelope on the bus, msgpack-encoded, validated on receipt.

    {"v": 1, "type": "plan_call", "rid": request id, "tid": trace id, "from": sender,
     "mono": monotonic seconds, "wall": unix seconds, "body": {...typed payload...}}

Every message type is a dataclass below (one per type, Wyoming's shape: `event()`,
`from_event()`, `is_type()`); `decode` checks a body against its type's fields and refuses
anything else with a `WireError` that says why (not msgpack, wrong version, unknown type,
oversize, missing or mistyped field), so a service can count it, answer it and go on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar, get_args, get_origin, get_type_hints

import msgpack

VERSION = 1
MAX_FRAME_BYTES = 4 * 1024 * 1024

class WireError(ValueError):
    """A frame that is not a valid message; `reason` is short and loggable."""

    def __init__(self, reason: str, request_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


@dataclass(frozen=True)
class Message:
    type: str
    body: dict[str, Any]
    request_id: str = ""
    trace_id: str = ""
    sender: str = ""
    mono: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)

    def reply(self, payload: Payload, sender: str) -> Message:
        """A message about the same request, keeping its trace."""
        return payload.event(self.request_id, self.trace_id, sender)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


class Payload:
    """The base of every message type: one frozen dataclass per type, its fields the body's.
    `event()` wraps it in an envelope, `from_event()` reads it back (the envelope was checked
    against the fields on receipt), `is_type()` says whether a message is of this type."""

    TYPE: ClassVar[str]

    def event(self, request_id: str = "", trace_id: str = "", sender: str = "") -> Message:
        return Message(self.TYPE, {f.name: getattr(self, f.name) for f in fields(self)},  # type: ignore[arg-type]
                       request_id, trace_id, sender)

    @classmethod
    def from_event(cls: type[P], msg: Message) -> P:
        if msg.type != cls.TYPE:
            raise WireError(f"expected a {cls.TYPE!r} message, got {msg.type!r}", msg.request_id)
        return cls(**{f.name: msg.body[f.name] for f in fields(cls) if f.name in msg.body})  # type: ignore[arg-type]

    @classmethod
    def is_type(cls, type_: str) -> bool:
        return type_ == cls.TYPE


P = TypeVar("P", bound=Payload)
MESSAGE_TYPES: dict[str, type[Payload]] = {}


def message(type_: str) -> Callable[[type[P]], type[P]]:
    """Declares a message type: a frozen dataclass registered under its name."""
    def register(cls: type[P]) -> type[P]:
        cls.TYPE = type_
        MESSAGE_TYPES[type_] = dataclass(frozen=True)(cls)
        return MESSAGE_TYPES[type_]  # type: ignore[return-value]
    return register


# ---- client <-> gateway --------------------------------------------------------------------
@message("ask")
class Ask(Payload):
    text: str
    now: str | None = None
    policy: str | None = None
    layout: str | None = None


@message("accepted")
class Accepted(Payload):
    pass


@message("progress")
class Progress(Payload):
    kind: str
    idx: int
    tool: str
    detail: str


@message("result")
class Result(Payload):
    """services/scheduler/result.py builds it; `pippin ask --json` prints it."""
    request_id: str
    query: str
    plan: str
    plan_errors: list[Any]
    answer: str
    calls: list[Any]
    seconds: dict[str, Any]
    planner_error: str | None = None
    replan: dict[str, Any] | None = None


@message("error")
class Error(Payload):
    message: str
    stage: str


@message("status")
class Status(Payload):
    pass


@message("status_reply")
class StatusReply(Payload):
    stages: dict[str, Any]


@message("cancel")
class Cancel(Payload):
    pass


# ---- the confirm policy: scheduler -> gateway -> client asks, client -> gateway -> bus answers
@message("confirm")
class Confirm(Payload):
    key: str
    idx: int
    tool: str
    args: list[Any]
    question: str


@message("confirmed")
class Confirmed(Payload):
    key: str
    yes: bool


# ---- gateway <-> retrieval -----------------------------------------------------------------
@message("retrieve")
class Retrieve(Payload):
    text: str


@message("retrieved")
class Retrieved(Payload):
    tools: list[str]
    examples: list[Any]


# ---- gateway <-> scheduler -----------------------------------------------------------------
@message("run")
class Run(Payload):
    text: str
    now: str
    tools: list[str]
    examples: list[Any]
    policy: str
    layout: str | None = None
    # Lookups already done for this request, from its speculative plan (early planning):
    # [{tool, args, ok, value}]; a call of the plan that is one of them is not run again.
    known: list[Any] | None = None


# ---- scheduler <-> planner -----------------------------------------------------------------
@message("plan")
class Plan(Payload):
    text: str
    now: str
    tools: list[str]
    examples: list[Any]
    context: str | None = None  # what a first round did, when the joiner replans
    layout: str | None = None  # the planner's prompt layout for this request (voice: "grammar")
    # Written ahead, at a pause in speech, for a `plan` of the same request that may follow:
    # answered like any plan (services.planner.speculation), or at once with a bare plan_end
    # when the planner is busy with a plan someone waits for.
    speculative: bool | None = None


@message("decide")
class Decide(Payload):
    text: str
    observations: str


@message("decision")
class Decision(Payload):
    action: str


@message("plan_call")
class PlanCall(Payload):
    idx: int
    tool: str
    args: list[Any]


@message("plan_end")
class PlanEnd(Payload):
    """The plan is over (the scheduler stops reading at join(), so mostly for errors)."""
    error: str | None = None


# ---- scheduler <-> executor ----------------------------------------------------------------
@message("execute")
class Execute(Payload):
    idx: int
    tool: str
    args: list[Any]
    deliver: bool


@message("outcome")
class CallOutcome(Payload):
    idx: int
    ok: bool
    value: str
    replayed: bool


def execution_key(msg: Message) -> str:
    """Which call an execute or its outcome is about: one request has several calls in flight
    at once, so a reply is matched by request id and call index, not by request id alone."""
    return f"{msg.request_id}/{msg.body.get('idx')}"


# ---- bus news: the topic of each is its type's name ----------------------------------------
@message("ready")
class Ready(Payload):
    instance: str
    pid: int


@message("heartbeat")
class Heartbeat(Payload):
    instance: str
    pid: int
    ready: bool
    stats: dict[str, Any]


@message("trace")
class Trace(Payload):
    spans: list[Any]


@message("inventory")
class MacInventory(Payload):
    """executor -> planner (grounding): the names the Mac has, at start, after a change, on a timer."""
    calendars: list[str]
    reminder_lists: list[str]
    note_folders: list[str]
    notes: list[str]
    contacts: list[str]
    timezone: str


@message("wake")
class Wake(Payload):
    """listener -> speaker: the wake word was heard; stop talking (barge-in)."""
    t_audio: float


@message("speaking")
class Speaking(Payload):
    """speaker -> anyone: Pippin started or stopped saying `text` (interrupted: by the wake word)."""
    active: bool
    text: str
    interrupted: bool


@message("audio")
class Audio(Payload):
    seq: int
    pcm: bytes
    rate: int
    # One sender's stream of frames, numbered from 0 (`pippin listen --pipeline` runs one per
    # file); frames of a new stream follow the last one on the listener's audio clock.
    stream: str | None = None


@message("transcript")
class Transcript(Payload):
    text: str
    final: bool
    stable: str
    pause: bool | None = None  # the whole utterance at its first silent frame: likely the final words


def _spec(cls: type[Payload]) -> dict[str, tuple[type, bool]]:
    """Each field's type and whether it may be absent (None), from the dataclass."""
    hints = get_type_hints(cls)
    out: dict[str, tuple[type, bool]] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        hint = hints[f.name]
        args = [a for a in get_args(hint) if a is not type(None)]
        optional = type(None) in get_args(hint)
        base = get_origin(args[0] if optional else hint) or (args[0] if optional else hint)
        out[f.name] = (base, optional)
    return out


# type name -> {field: (type, optional)}: what decode checks, derived from the dataclasses
PAYLOADS: dict[str, dict[str, tuple[type, bool]]] = {t: _spec(c) for t, c in MESSAGE_TYPES.items()}


def _check_body(kind: str, body: Any) -> None:
    if not isinstance(body, dict):
        raise WireError(f"{kind}: body must be a map")
    spec = PAYLOADS[kind]
    for name, (typ, optional) in spec.items():
        if name not in body or (optional and body[name] is None):
            if optional:
                continue
            raise WireError(f"{kind}: missing field {name!r}")
        value = body[name]
        ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
        if typ is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            raise WireError(f"{kind}: field {name!r} must be {typ.__name__}, got {type(value).__name__}")


def encode(msg: Message) -> bytes:
    if msg.type not in PAYLOADS:
        raise WireError(f"unknown message type {msg.type!r}")
    _check_body(msg.type, msg.body)
    data = msgpack.packb({"v": VERSION, "type": msg.type, "rid": msg.request_id, "tid": msg.trace_id,
                          "from": msg.sender, "mono": msg.mono, "wall": msg.wall, "body": msg.body},
                         use_bin_type=True)
    if len(data) > MAX_FRAME_BYTES:
        raise WireError(f"{msg.type}: message of {len(data)} bytes is over {MAX_FRAME_BYTES}")
    return data


def decode(frame: bytes) -> Message:
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise WireError("frame is not bytes")
    if len(frame) > MAX_FRAME_BYTES:
        raise WireError(f"frame of {len(frame)} bytes is over {MAX_FRAME_BYTES}")
    try:
        obj = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except Exception as e:
        raise WireError(f"not msgpack: {type(e).__name__}") from None
    if not isinstance(obj, dict):
        raise WireError("not a message: expected a map")
    rid = obj.get("rid") if isinstance(obj.get("rid"), str) else ""
    if obj.get("v") != VERSION:
        raise WireError(f"unsupported schema version {obj.get('v')!r} (this side speaks {VERSION})", rid)
    kind = obj.get("type")
    if kind not in PAYLOADS:
        raise WireError(f"unknown message type {kind!r}", rid)
    for name, typ in (("rid", str), ("tid", str), ("from", str), ("mono", (int, float)), ("wall", (int, float))):
        if not isinstance(obj.get(name), typ) or isinstance(obj.get(name), bool):
            raise WireError(f"{kind}: envelope field {name!r} missing or mistyped", rid)
    try:
        _check_body(kind, obj.get("body"))
    except WireError as e:
        raise WireError(e.reason, rid) from None
    return Message(kind, obj["body"], obj["rid"], obj["tid"], obj["from"], float(obj["mono"]), float(obj["wall"]))
