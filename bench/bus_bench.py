"""Bus hop latency (ZeroMQ + msgpack envelope, one machine over ipc), and the cost of
encoding/decoding an envelope."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio

from shared import wire
from shared.wire import decode, encode


async def _echo_roundtrips(endpoint: str, n: int) -> list[float]:
    ctx = zmq.asyncio.Context()
    server = ctx.socket(zmq.ROUTER)
    server.bind(endpoint)
    client = ctx.socket(zmq.DEALER)
    client.connect(endpoint)

    async def serve() -> None:
        while True:
            ident, frame = await server.recv_multipart()
            msg = decode(frame)
            await server.send_multipart([ident, encode(msg.reply(wire.CallOutcome(1, True, "x", False), "echo"))])

    task = asyncio.create_task(serve())
    req = wire.Execute(1, "get_phone_number", ["Sid"], False).event("r")
    times = []
    for i in range(n + 50):
        t0 = time.perf_counter()
        await client.send(encode(req))
        decode((await client.recv_multipart())[-1])
        if i >= 50:  # warm-up
            times.append(time.perf_counter() - t0)
    task.cancel()
    ctx.destroy(linger=0)
    return times


def run(n: int = 3000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        rtts = sorted(asyncio.run(_echo_roundtrips(f"ipc://{Path(d) / 'b.sock'}", n)))
    msg = wire.PlanCall(3, "send_sms", [["$1", "$2"], "Standup moved."]).event("r", "t", "p")
    t0 = time.perf_counter()
    for _ in range(20000):
        decode(encode(msg))
    codec = (time.perf_counter() - t0) / 20000
    return {
        "hop_us_p50": round(rtts[len(rtts) // 2] / 2 * 1e6, 1),  # one way = half a round trip
        "hop_us_p99": round(rtts[int(len(rtts) * 0.99)] / 2 * 1e6, 1),
        "envelope_encode_decode_us": round(codec * 1e6, 2),
    }


if __name__ == "__main__":
    print(run())
