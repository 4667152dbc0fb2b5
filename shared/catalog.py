"""The 16 macOS tools as data: the one source of truth for prompts, grammars, the
validator, both executors and the docs.

Signatures follow tests/shared/eval/README.md exactly (names, order, types)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class ParamType(enum.Enum):
    STR = "str"
    INT = "int"
    BOOL = "bool"
    STR_LIST = "list[str]"


class Effect(enum.Enum):
    """What a call does to the world, which decides scheduling and confirmation."""

    READ = "read"  # looks something up, or only shows it on screen
    LOCAL = "local"  # changes the user's own data (a note, a reminder, an event without guests)
    OUTWARD = "outward"  # reaches other people (a message, an email, an invitation)


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    description: str
    # Value constraints beyond the type, enforced by the validator and the grammar.
    choices: tuple[str, ...] = ()
    datetime: bool = False  # "YYYY-MM-DD HH:MM:SS"
    allow_empty: bool = True  # may a datetime be "" (unknown)?
    int_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    params: tuple[Param, ...]
    returns: str
    description: str
    app: str
    effect: Effect
    # UI-scripting tools drive one app window; two at once would type into each other.
    serial: bool = False
    # Names of tools whose results this tool typically needs (lookups before sending).
    needs: tuple[str, ...] = field(default=())

    def signature(self) -> str:
        args = ", ".join(f"{p.name}: {p.type.value}" for p in self.params)
        return f"{self.name}({args}) -> {self.returns}"


S, N, B, L = ParamType.STR, ParamType.INT, ParamType.BOOL, ParamType.STR_LIST

TOOLS: tuple[Tool, ...] = (
    Tool(
        "get_phone_number",
        (Param("name", S, "the contact's name as the user said it"),),
        "str",
        "Looks up a contact's phone number by name in Contacts. Use it before send_sms "
        "unless the user spelled out the number.",
        "Contacts",
        Effect.READ,
    ),
    Tool(
        "get_email_address",
        (Param("name", S, "the contact's name as the user said it"),),
        "str",
        "Looks up a contact's email address by name in Contacts. Use it before emailing, "
        "inviting or adding someone to a Zoom meeting, unless the user spelled out the address.",
        "Contacts",
        Effect.READ,
    ),
    Tool(
        "create_calendar_event",
        (
            Param("title", S, "the event's title"),
            Param("start_date", S, "start, YYYY-MM-DD HH:MM:SS", datetime=True, allow_empty=False),
            Param("end_date", S, "end, YYYY-MM-DD HH:MM:SS", datetime=True, allow_empty=False),
            Param("location", S, "where, or \"\""),
            Param("invitees", L, "email addresses of the people invited, or []"),
            Param("notes", S, "notes for the event, or \"\""),
            Param("calendar", S, "calendar name, or \"\" for the default one"),
        ),
        "str",
        "Creates an event in Calendar. Invitees are email addresses (look them up first). "
        "Meetings last 60 minutes unless the user says otherwise.",
        "Calendar",
        Effect.LOCAL,  # OUTWARD when it has invitees; see effect_of()
    ),
    Tool(
        "open_and_get_file_path",
        (Param("file_name", S, "the file's name as the user said it"),),
        "str",
        "Finds a file by (fuzzy) name with Spotlight, opens it and returns its path. "
        "Use it before attaching or summarizing a file.",
        "Finder",
        Effect.READ,
    ),
    Tool(
        "summarize_pdf",
        (Param("pdf_path", S, "path of the PDF, usually the result of open_and_get_file_path"),),
        "str",
        "Returns a short summary of a PDF file's text.",
        "Finder",
        Effect.READ,
        needs=("open_and_get_file_path",),
    ),
    Tool(
        "compose_new_email",
        (
            Param("recipients", L, "email addresses"),
            Param("cc", L, "email addresses to copy, or []"),
            Param("subject", S, "the subject line"),
            Param("context", S, "what the email should say"),
            Param("attachments", L, "file paths to attach, or []"),
        ),
        "str",
        "Writes a new email in Mail to the given addresses (look them up first), "
        "with optional cc and file attachments (paths looked up first).",
        "Mail",
        Effect.OUTWARD,
        serial=True,
        needs=("get_email_address",),
    ),
    Tool(
        "reply_to_email",
        (
            Param("cc", L, "email addresses to copy, or []"),
            Param("context", S, "what the reply should say"),
            Param("attachments", L, "file paths to attach, or []"),
        ),
        "str",
        "Replies to the email currently selected in Mail.",
        "Mail",
        Effect.OUTWARD,
        serial=True,
    ),
    Tool(
        "forward_email",
        (
            Param("recipients", L, "email addresses"),
            Param("cc", L, "email addresses to copy, or []"),
            Param("context", S, "a note to add, or \"\""),
            Param("attachments", L, "extra file paths to attach, or []"),
        ),
        "str",
        "Forwards the email currently selected in Mail to the given addresses.",
        "Mail",
        Effect.OUTWARD,
        serial=True,
        needs=("get_email_address",),
    ),
    Tool(
        "maps_open_location",
        (Param("location", S, "a place name or address"),),
        "str",
        "Shows a place in Maps.",
        "Maps",
        Effect.READ,
    ),
    Tool(
        "maps_show_directions",
        (
            Param("start_location", S, "where to start, or \"\" for the current location"),
            Param("end_location", S, "the destination"),
            Param("transport", S, "\"d\" drive, \"w\" walk, \"r\" transit", choices=("d", "w", "r")),
        ),
        "str",
        "Shows directions in Maps from a start (\"\" = current location) to a destination.",
        "Maps",
        Effect.READ,
    ),
    Tool(
        "create_note",
        (
            Param("name", S, "the note's title"),
            Param("content", S, "the note's text"),
            Param("folder", S, "folder name, or \"\" for the default folder"),
        ),
        "str",
        "Creates a new note in Notes.",
        "Notes",
        Effect.LOCAL,
        serial=True,
    ),
    Tool(
        "open_note",
        (
            Param("name", S, "the note's title"),
            Param("folder", S, "folder name, or \"\" to search all folders"),
        ),
        "str",
        "Opens an existing note and returns its text.",
        "Notes",
        Effect.READ,
        serial=True,
    ),
    Tool(
        "append_note_content",
        (
            Param("name", S, "the existing note's title"),
            Param("content", S, "text to add at the end"),
            Param("folder", S, "folder name, or \"\" to search all folders"),
        ),
        "str",
        "Adds text to the end of an existing note.",
        "Notes",
        Effect.LOCAL,
        serial=True,
    ),
    Tool(
        "create_reminder",
        (
            Param("name", S, "what to be reminded of"),
            Param("due_date", S, "YYYY-MM-DD HH:MM:SS, or \"\" for none", datetime=True),
            Param("notes", S, "notes, or \"\""),
            Param("list_name", S, "reminder list, or \"\" for the default list"),
            Param("priority", N, "0 none, 1 high, 5 medium, 9 low", int_range=(0, 9)),
            Param("all_day", B, "True when the due date has no time of day"),
        ),
        "str",
        "Creates a reminder in Reminders.",
        "Reminders",
        Effect.LOCAL,
    ),
    Tool(
        "send_sms",
        (
            Param("recipients", L, "phone numbers (look them up first)"),
            Param("message", S, "the text of the message"),
        ),
        "str",
        "Sends a text message with Messages to the given phone numbers.",
        "Messages",
        Effect.OUTWARD,
        serial=True,
        needs=("get_phone_number",),
    ),
    Tool(
        "get_zoom_meeting_link",
        (
            Param("topic", S, "the meeting's topic"),
            Param("start_time", S, "YYYY-MM-DD HH:MM:SS", datetime=True, allow_empty=False),
            Param("duration", N, "minutes", int_range=(1, 24 * 60)),
            Param("meeting_invitees", L, "email addresses of the people invited, or []"),
        ),
        "str",
        "Creates a Zoom meeting and returns its join link.",
        "Zoom",
        Effect.OUTWARD,
        needs=(),
    ),
)

# Lookups that neither change the Mac nor show anything: safe to run from a speculative plan,
# before the user has finished asking (early planning).
SILENT_LOOKUPS = frozenset({"get_phone_number", "get_email_address"})


def runs_early(tool: str, args: Iterable[Any]) -> bool:
    """Whether a speculative plan's call may run before the user has finished asking: a
    silent lookup whose arguments are the request's own (no "$" result of another call)."""
    return tool in SILENT_LOOKUPS and not any("$" in str(a) for a in args)


BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}
TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in TOOLS)
JOIN = "join"


def get(name: str) -> Tool:
    """The tool called `name`; KeyError with the known names if there is none."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown tool {name!r}; known tools: {', '.join(TOOL_NAMES)}") from None


def effect_of(tool_name: str, args: tuple[object, ...]) -> Effect:
    """The effect of one concrete call: an event with invitees reaches other people."""
    tool = get(tool_name)
    if tool_name == "create_calendar_event" and len(args) >= 5 and args[4]:
        return Effect.OUTWARD
    if tool_name == "get_zoom_meeting_link" and len(args) >= 4 and not args[3]:
        return Effect.LOCAL  # a link for nobody in particular invites nobody
    return tool.effect


def catalog_markdown() -> str:
    """The catalog as a markdown table, for the README and `pippin tools`."""
    rows = ["| tool | app | effect | signature |", "|---|---|---|---|"]
    for t in TOOLS:
        rows.append(f"| `{t.name}` | {t.app} | {t.effect.value} | `{t.signature()}` |")
    return "\n".join(rows)


def confirmation_question(tool: str, args: tuple[Any, ...] | list[Any]) -> str:
    """What the user is asked before an outward call (confirm policy), every argument named."""
    named = "; ".join(f"{p.name}: {v!r}" for p, v in zip(get(tool).params, args, strict=False))
    return f"{tool.replace('_', ' ')}? ({named})"
