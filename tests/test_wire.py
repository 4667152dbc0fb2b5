import contextlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.wire import MAX_FRAME_BYTES, PAYLOADS, Message, WireError, decode, encode


def test_round_trip_keeps_everything() -> None:
    m = Message("execute", {"idx": 2, "tool": "send_sms", "args": [["+1555"], "hi"], "deliver": False},
                "req1", "trace1", "scheduler")
    back = decode(encode(m))
    assert back == m


def raw(**over):
    base = {"v": 1, "type": "status", "rid": "r", "tid": "t", "from": "x", "mono": 1.0, "wall": 2.0, "body": {}}
    base.update(over)
    return msgpack.packb(base)


@pytest.mark.parametrize("frame,reason", [
    (b"\xc1garbage", "not msgpack"),
    (msgpack.packb([1, 2, 3]), "expected a map"),
    (raw(v=2), "unsupported schema version 2"),
    (raw(type="launch"), "unknown message type 'launch'"),
    (raw(rid=5), "envelope field 'rid'"),
    (raw(type="execute", body={"idx": 1, "tool": "x", "args": []}), "missing field 'deliver'"),
    (raw(type="execute", body={"idx": True, "tool": "x", "args": [], "deliver": False}), "field 'idx' must be int"),
    (raw(type="ask", body="text"), "body must be a map"),
    (b"\x00" * (MAX_FRAME_BYTES + 1), "over"),
])
def test_bad_frames_say_why(frame: bytes, reason: str) -> None:
    with pytest.raises(WireError, match=reason):
        decode(frame)


def test_request_id_survives_a_bad_body() -> None:
    with pytest.raises(WireError) as e:
        decode(raw(type="execute", rid="abc", body={}))
    assert e.value.request_id == "abc"


def test_encode_refuses_what_decode_would() -> None:
    with pytest.raises(WireError):
        encode(Message("ask", {"text": 3}))
    with pytest.raises(WireError):
        encode(Message("nope", {}))


def test_optional_fields() -> None:
    assert decode(encode(Message("ask", {"text": "hi", "now": None}))).body["now"] is None
    assert set(PAYLOADS) >= {"ask", "plan_call", "execute", "outcome", "heartbeat", "audio"}


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20) | st.binary(max_size=20),
                              lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                              max_leaves=20).map(lambda o: msgpack.packb(o))))
def test_decode_raises_only_wire_errors(frame: bytes) -> None:
    with contextlib.suppress(WireError):
        decode(frame)


def test_an_outcome_is_matched_to_its_call_by_request_and_index_not_request_alone() -> None:
    from shared.wire import CallOutcome, Execute, execution_key

    ask = Execute(idx=2, tool="get_phone_number", args=["Sid"], deliver=False).event("r1")
    other_call = CallOutcome(idx=3, ok=True, value="+1", replayed=False).event("r1")
    reply = CallOutcome(idx=2, ok=True, value="+1", replayed=False).event("r1")
    assert execution_key(reply) == execution_key(ask) != execution_key(other_call)
