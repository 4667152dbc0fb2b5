"""Idempotent execution: the same (request id, call number) never acts twice.

The ledger records a call as *started* before the backend acts and *finished* with its
outcome after. Seeing the key again returns the recorded outcome; a call that started
but never finished (the executor died mid-call) is not retried, because the side
effect may have happened: the caller is told so, and nothing is sent twice."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from services.executor.common import ToolError
from shared.outcome import Outcome
from shared.plan import Value

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    request_id TEXT NOT NULL, idx INTEGER NOT NULL, tool TEXT NOT NULL, args TEXT NOT NULL,
    state TEXT NOT NULL, ok INTEGER, value TEXT, started REAL NOT NULL, finished REAL,
    PRIMARY KEY (request_id, idx))
"""


class Backend(Protocol):
    def call(self, tool: str, args: tuple[Value, ...], *, deliver: bool = False,
             call_key: str | None = None) -> str: ...

    def inventory(self) -> dict[str, list[str] | str]:
        """The names planning may ground in: calendars, reminder_lists, note_folders, notes,
        contacts (lists; empty where they could not be read) and timezone ("" if unknown)."""
        ...


class Ledger:
    def __init__(self, path: str | Path = ":memory:") -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def begin(self, request_id: str, idx: int, tool: str, args: tuple[Value, ...]) -> Outcome | None:
        """Claim the key. None: go ahead and act. An Outcome: the key was seen before."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO ledger(request_id, idx, tool, args, state, started) "
                "VALUES (?, ?, ?, ?, 'started', ?)",
                (request_id, idx, tool, json.dumps(args), time.time()))
            if cur.rowcount == 1:
                return None
            row = self._db.execute("SELECT tool, state, ok, value FROM ledger WHERE request_id = ? AND idx = ?",
                                   (request_id, idx)).fetchone()
        if row[0] != tool:
            return Outcome(False, f"call {idx} of request {request_id} was already used for {row[0]}", True)
        if row[1] == "finished":
            return Outcome(bool(row[2]), row[3], True)
        return Outcome(False, f"call {idx} ({tool}) was started before and its outcome is unknown "
                              "(the executor stopped mid-call); not repeating it, so nothing is done twice", True)

    def finish(self, request_id: str, idx: int, outcome: Outcome) -> None:
        with self._lock:
            self._db.execute("UPDATE ledger SET state = 'finished', ok = ?, value = ?, finished = ? "
                             "WHERE request_id = ? AND idx = ?",
                             (int(outcome.ok), outcome.value, time.time(), request_id, idx))

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]


class Executor:
    """A backend (simulated Mac or AppleScript) behind the ledger. Thread-safe."""

    def __init__(self, backend: Backend, ledger: Ledger | None = None) -> None:
        self.backend = backend
        self.ledger = ledger or Ledger()

    def execute(self, request_id: str, idx: int, tool: str, args: tuple[Value, ...], *,
                deliver: bool = False) -> Outcome:
        seen = self.ledger.begin(request_id, idx, tool, args)
        if seen is not None:
            return seen
        try:
            outcome = Outcome(True, self.backend.call(tool, args, deliver=deliver, call_key=f"{request_id}/{idx}"))
        except ToolError as e:
            outcome = Outcome(False, str(e))
        except Exception as e:
            outcome = Outcome(False, f"{tool} failed unexpectedly: {type(e).__name__}: {e}")
        self.ledger.finish(request_id, idx, outcome)
        return outcome
