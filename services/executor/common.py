"""What both executor backends share: errors, argument coercion, address checks and
phone numbers as people store them, Maps URLs and the summary of a document's text."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import phonenumbers

from shared import catalog
from shared.catalog import ParamType
from shared.plan import Value

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?\(?[0-9][0-9 ().-]{4,}$")
# What Contacts and pasted text put around and inside numbers: no-break and narrow spaces,
# bidirectional marks and isolates, word joiners, a byte-order mark, non-ASCII hyphens.
_INVISIBLE = {ord(c): " " for c in "\u00a0\u2007\u202f\u2009\u200b"}
_INVISIBLE |= {ord(c): "" for c in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"}
_INVISIBLE |= {ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2212"}
# Contacts' phone labels, best for a text first; faxes and pagers cannot take one.
_PHONE_LABEL_RANK = {"iphone": 0, "mobile": 0, "cell": 0, "main": 1, "home": 3, "work": 3, "other": 3}
_NOT_TEXTABLE = ("fax", "pager")
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


def clean_phone(raw: str) -> str:
    """A number without the invisible characters and odd hyphens copied along with it."""
    return " ".join(raw.translate(_INVISIBLE).split())


def normalize_phone(raw: str, region: str = "US") -> str | None:
    """A phone number as Messages takes it: E.164 ("+14155550115") when libphonenumber can
    read it in `region` ("(415) 555-0115", "415.555.0115", "+44 20 7946 0958"); the cleaned
    text for short codes and local numbers it cannot place ("555-0115": Messages dials them
    as the user would); None for what is not a number."""
    text = clean_phone(raw)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text if _PHONE_RE.match(text) else None


def check_sms_recipients(recipients: list[str], region: str = "US") -> list[str]:
    if not recipients:
        raise ToolError("a text message needs at least one recipient")
    out, bad = [], []
    for r in recipients:
        text = clean_phone(r)
        number = text if _EMAIL_RE.match(text) else normalize_phone(text, region)
        if number is None:
            bad.append(r)
        else:
            out.append(number)
    if bad:
        raise ToolError(
            "text recipients must be phone numbers or iMessage addresses (look names up with "
            "get_phone_number first): " + ", ".join(repr(b) for b in bad)
        )
    return out


def phone_label(label: str) -> str:
    """Contacts' stored label in words: "_$!<Mobile>!$_" -> "mobile"; custom labels as typed."""
    m = re.fullmatch(r"_\$!<(.*)>!\$_", label.strip())
    return (m.group(1) if m else label.strip()).lower()


def choose_phone(name: str, phones: list[tuple[str, str]], region: str = "US") -> str:
    """The number to text among a person's (label, value) phones: a mobile before a main
    line, before any other, before home and work; never a fax or a pager. E.164 when readable."""
    textable = [(i, phone_label(label), value) for i, (label, value) in enumerate(phones)
                if value.strip() and not any(w in phone_label(label) for w in _NOT_TEXTABLE)]
    if not textable:
        kinds = ", ".join(sorted({phone_label(label) for label, _ in phones})) or "none"
        raise ToolError(f"{name} has no phone number that can take a text on file (numbers: {kinds})")
    _, _, value = min(textable, key=lambda t: (_PHONE_LABEL_RANK.get(t[1], 2), t[0]))
    return normalize_phone(value, region) or clean_phone(value)


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
