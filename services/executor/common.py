"""What both executor backends share: errors, argument coercion, address checks,
Maps URLs and the summary of a document's text."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

from shared import catalog
from shared.catalog import ParamType
from shared.plan import Value

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{4,}$")
TRANSPORT_FLAGS = {"d": "d", "w": "w", "r": "r"}  # Apple Maps dirflg values


class ToolError(Exception):
    """A call that could not be done; the message is meant for the user."""


def coerce_args(tool_name: str, args: tuple[Value, ...]) -> list[Value]:
    """Arguments with None read as "" / [] (the plan language's 'unknown')."""
    tool = catalog.get(tool_name)
    if len(args) != len(tool.params):
        raise ToolError(f"{tool_name} takes {len(tool.params)} arguments, got {len(args)}")
    out: list[Value] = []
    for p, a in zip(tool.params, args, strict=True):
        if a is None:
            a = [] if p.type is ParamType.STR_LIST else ""
        out.append(a)
    return out


def check_emails(addresses: list[str], role: str) -> list[str]:
    bad = [a for a in addresses if not _EMAIL_RE.match(a.strip())]
    if bad:
        raise ToolError(
            f"{role} must be email addresses (look names up with get_email_address first): "
            + ", ".join(repr(b) for b in bad)
        )
    return [a.strip() for a in addresses]


def check_sms_recipients(recipients: list[str]) -> list[str]:
    if not recipients:
        raise ToolError("a text message needs at least one recipient")
    bad = [r for r in recipients if not (_PHONE_RE.match(r.strip()) or _EMAIL_RE.match(r.strip()))]
    if bad:
        raise ToolError(
            "text recipients must be phone numbers (look names up with get_phone_number first): "
            + ", ".join(repr(b) for b in bad)
        )
    return [r.strip() for r in recipients]


def maps_search_url(location: str) -> str:
    if not location.strip():
        raise ToolError("no place given to show in Maps")
    return "https://maps.apple.com/?" + urlencode({"q": location})


def maps_directions_url(start: str, end: str, transport: str) -> str:
    if not end.strip():
        raise ToolError("no destination given for directions")
    flag = TRANSPORT_FLAGS.get(transport or "d")
    if flag is None:
        raise ToolError(f"transport must be 'd', 'w' or 'r', got {transport!r}")
    query = {"saddr": start, "daddr": end, "dirflg": flag} if start else {"daddr": end, "dirflg": flag}
    return "https://maps.apple.com/?" + urlencode(query)


Summarizer = Callable[[str], str]


def extractive_summary(text: str, max_chars: int = 280) -> str:
    """The leading sentences of a text, up to max_chars: a summary that needs no model.
    The LLM summarizer (services.planner.llm) replaces it where a model is loaded."""
    text = " ".join(text.split())
    if not text:
        raise ToolError("the document has no text to summarize")
    sentences = re.split(r"(?<=[.!?])\s+", text)
    out = ""
    for s in sentences:
        if out and len(out) + 1 + len(s) > max_chars:
            break
        out = f"{out} {s}".strip()
    return out if len(out) <= max_chars else out[: max_chars - 1].rstrip() + "…"
