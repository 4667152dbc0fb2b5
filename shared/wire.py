"""The one message envelope on the bus, msgpack-encoded, validated on receipt.

    {"v": 1, "type": "plan_call", "rid": request id, "tid": trace id, "from": sender,
     "mono": monotonic seconds, "wall": unix seconds, "body": {...typed payload...}}

Every payload type lists its fields and their types below; `decode` refuses anything
else with a `WireError` that says why (not msgpack, wrong version, unknown type,
oversize, missing or mistyped field), so a service can count it, answer it and go on."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgpack

VERSION = 1
MAX_FRAME_BYTES = 4 * 1024 * 1024

_ANY = object()
_OPT = "optional"

# type name -> {field: type or (type, "optional")}
PAYLOADS: dict[str, dict[str, Any]] = {
    # client <-> gateway
    "ask": {"text": str, "now": (str, _OPT), "policy": (str, _OPT), "layout": (str, _OPT)},
    "accepted": {},
    "progress": {"kind": str, "idx": int, "tool": str, "detail": str},
    "result": {"plan": str, "calls": list, "answer": str, "plan_errors": list, "seconds": dict,
               "replan": (dict, _OPT)},
    # the confirm policy: scheduler -> gateway -> client asks, client -> gateway -> bus answers
    "confirm": {"key": str, "idx": int, "tool": str, "args": list, "question": str},
    "confirmed": {"key": str, "yes": bool},
    "error": {"message": str, "stage": str},
    "status": {},
    "status_reply": {"stages": dict},
    "cancel": {},
    # gateway <-> retrieval
    "retrieve": {"text": str},
    "retrieved": {"tools": list, "examples": list},
    # gateway <-> scheduler
    "run": {"text": str, "now": str, "tools": list, "examples": list, "policy": str, "layout": (str, _OPT)},
    # scheduler <-> planner
    "plan": {"text": str, "now": str, "tools": list, "examples": list, "context": (str, _OPT),
             "layout": (str, _OPT)},  # the planner's prompt layout for this request (voice: "grammar")
    "decide": {"text": str, "observations": str},
    "decision": {"action": str},
    "plan_call": {"idx": int, "tool": str, "args": list},
    "plan_end": {"error": (str, _OPT)},  # the plan is over (the scheduler stops reading at join())
    # scheduler <-> executor
    "execute": {"idx": int, "tool": str, "args": list, "deliver": bool},
    "outcome": {"idx": int, "ok": bool, "value": str, "replayed": bool},
    # everyone -> bus
    "ready": {"instance": str, "pid": int},
    "heartbeat": {"instance": str, "pid": int, "ready": bool, "stats": dict},
    "trace": {"spans": list},
    # executor -> planner (grounding): the names the Mac has, at start, after a change, on a timer
    "inventory": {"calendars": list, "reminder_lists": list, "note_folders": list, "notes": list,
                  "contacts": list, "timezone": str},
    # listener
    "audio": {"seq": int, "pcm": bytes, "rate": int},
    "transcript": {"text": str, "final": bool, "stable": str},
}


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

    def reply(self, type: str, body: dict[str, Any], sender: str) -> Message:
        """A message about the same request, keeping its trace."""
        return Message(type, body, self.request_id, self.trace_id, sender)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def _check_body(kind: str, body: Any) -> None:
    if not isinstance(body, dict):
        raise WireError(f"{kind}: body must be a map")
    spec = PAYLOADS[kind]
    for name, t in spec.items():
        optional = isinstance(t, tuple)
        typ = t[0] if optional else t
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
