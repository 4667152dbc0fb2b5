"""What a call did: the result the scheduler, the joiner and the client read, whichever
backend ran it (the contract between the executor and everything that waits on it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    ok: bool
    value: str  # the result, or the error message
    replayed: bool = False  # True when the ledger answered instead of the backend
