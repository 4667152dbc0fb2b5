"""Spans: where each stage spent a request's time, cheaply, across processes.

A span is (stage, name, trace id, request id, start, duration) on the monotonic clock,
which all processes of one machine share, so spans from different stages line up.
Each stage keeps the last spans in a bounded ring (for `status`) and appends them to
run/trace/STAGE.jsonl through a buffer that the stage flushes with every heartbeat
(so a span is on disk within a second; the file is cut in half when it grows past a
limit), which `pippin trace` reads. Names used by every stage:

    recv  from the sender's send time (envelope `mono`) to this stage decoding it:
          transit and queue wait
    work  handling the message (a stage's own work, including waits on the next stage)
    send  encoding and sending one reply

Stages run on other Macs (tcp) have clocks of their own: their recv spans are not
comparable there and are left out of the queue figures."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

RING = 4096
MAX_FILE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Span:
    stage: str
    name: str
    trace_id: str
    request_id: str
    start: float  # monotonic seconds
    seconds: float
    pid: int
    detail: str = ""  # the message type, or what the work was

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies, and this runs for every message.
        return {"stage": self.stage, "name": self.name, "trace_id": self.trace_id, "request_id": self.request_id,
                "start": self.start, "seconds": self.seconds, "pid": self.pid, "detail": self.detail}


class Tracer:
    def __init__(self, stage: str, directory: Path | None = None) -> None:
        self.stage = stage
        self.pid = os.getpid()
        self.ring: deque[Span] = deque(maxlen=RING)
        self.path = directory / f"{stage}.jsonl" if directory else None
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        self._written = 0
        if self.path:
            self._written = self.path.stat().st_size if self.path.exists() else 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115 (lives with the stage)

    def record(self, name: str, trace_id: str, request_id: str, start: float, seconds: float,
               detail: str = "") -> None:
        if not trace_id and not request_id:
            return  # heartbeats, status: not part of a request
        span = Span(self.stage, name, trace_id, request_id, start, seconds, self.pid, detail)
        self.ring.append(span)
        if self._file is not None:
            line = json.dumps(span.to_json(), separators=(",", ":")) + "\n"
            with self._lock:
                self._file.write(line)
                self._written += len(line)  # not tell(): on a text file it flushes the buffer
                if self._written > MAX_FILE_BYTES:
                    self._halve()

    @contextmanager
    def span(self, name: str, trace_id: str, request_id: str, detail: str = "") -> Iterator[None]:
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.record(name, trace_id, request_id, t0, time.monotonic() - t0, detail)

    def _halve(self) -> None:
        assert self._file is not None and self.path is not None
        self._file.close()
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = "".join(lines[len(lines) // 2:])
        self.path.write_text(kept, encoding="utf-8")
        self._written = len(kept)
        self._file = open(self.path, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115

    def flush(self) -> None:
        if self._file is not None:
            with self._lock:
                self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_spans(directory: Path) -> list[Span]:
    spans = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                spans.append(Span(**json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut by a crash
    return spans
