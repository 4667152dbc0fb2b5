"""The real Mac: the 16 tools through `osascript FILE ARG...`.

User text never becomes AppleScript source: every script in ./applescript reads its
values from `on run argv`, and this module passes them as separate argv entries
(lists count-prefixed, dates as numbers). Choosing among candidates (which contact,
file or note the user meant) happens here, with the same rules as the simulated Mac."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from services.executor.common import (
    Summarizer,
    ToolError,
    check_emails,
    check_sms_recipients,
    choose_phone,
    coerce_args,
    extractive_summary,
    maps_directions_url,
    maps_search_url,
)
from services.executor.zoom import NOT_SET_UP, ZoomClient, ZoomSettings
from shared import matching
from shared.plan import Value
from shared.validate import DATETIME_FORMAT

SCRIPT_DIR = Path(__file__).resolve().parent / "applescript"
Runner = Callable[..., subprocess.CompletedProcess[str]]


AUTOMATION_FIX = ("System Settings > Privacy & Security > Automation, find the app Pippin runs in (Terminal, "
                  "iTerm, or Python) and switch on {app}")


def explain_osascript_error(stderr: str) -> str:
    """osascript's error with what to do, for the errors a first run meets: a permission
    refused (-1743: macOS never asks again by itself) and a consent dialog left unanswered
    (-1712). Other errors pass through as they are."""
    app = re.search(r'application "([^"]+)"|\b(Contacts|Calendar|Reminders|Notes|Mail|Messages|Finder)\b', stderr)
    name = next((g for g in app.groups() if g), "the app") if app else "the app"
    if "-1743" in stderr or "Not authorized to send Apple events" in stderr:
        return (f"Pippin is not allowed to control {name}: open " + AUTOMATION_FIX.format(app=name)
                + " (or run `pippin doctor`)")
    if "-1712" in stderr:
        return (f"{name} did not answer in time; if macOS is asking whether Pippin may control {name}, "
                "click OK and ask again (`pippin doctor` asks for every app at once)")
    return stderr


def _date_parts(text: str, what: str) -> list[str]:
    try:
        d = dt.datetime.strptime(text, DATETIME_FORMAT)
    except ValueError:
        raise ToolError(f"{what} must be 'YYYY-MM-DD HH:MM:SS', got {text!r}") from None
    return [str(x) for x in (d.year, d.month, d.day, d.hour, d.minute, d.second)]


def _counted(items: Sequence[str]) -> list[str]:
    return [str(len(items)), *items]


def _flag(b: bool) -> str:
    return "1" if b else "0"


def read_pdf_text(path: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    except (OSError, PdfReadError) as e:
        raise ToolError(f"could not read {PurePosixPath(path).name}: {e}") from None


class AppleScriptMac:
    def __init__(self, *, osascript: str = "osascript", mdfind: str = "mdfind", home: str = "~",
                 summarizer: Summarizer | None = None, zoom: ZoomClient | None = None,
                 timeout_s: float = 30.0, runner: Runner = subprocess.run,
                 phone_region: str = "US") -> None:
        self.osascript = osascript
        self.mdfind = mdfind
        self.home = str(Path(home).expanduser())
        self.summarize = summarizer or extractive_summary
        self.zoom = zoom or ZoomClient(ZoomSettings(), timeout_s=timeout_s)
        self.timeout_s = timeout_s
        self._run_process = runner
        self.phone_region = phone_region  # how numbers without a country code are read

    # ---- running scripts -----------------------------------------------------------------
    def _exec(self, argv: list[str]) -> str:
        try:
            proc = self._run_process(argv, capture_output=True, text=True, timeout=self.timeout_s, check=False)
        except FileNotFoundError:
            raise ToolError(f"{argv[0]} is not available (the AppleScript backend needs macOS)") from None
        except subprocess.TimeoutExpired:
            raise ToolError(f"{PurePosixPath(argv[1] if len(argv) > 1 else argv[0]).name} timed out") from None
        if proc.returncode != 0:
            raise ToolError(explain_osascript_error(proc.stderr.strip()) or f"{argv[0]} exited with {proc.returncode}")
        return proc.stdout.rstrip("\n")

    def script(self, name: str, *args: str) -> str:
        for a in args:
            if not isinstance(a, str):
                raise TypeError(f"argv values are strings, got {type(a).__name__}")
        return self._exec([self.osascript, str(SCRIPT_DIR / f"{name}.applescript"), *args])

    def _lines(self, name: str) -> list[str]:
        out = self.script(name)
        return [line for line in out.split("\n") if line]

    # ---- the call interface --------------------------------------------------------------
    def call(self, tool: str, args: tuple[Value, ...] | list[Value], *, deliver: bool = False,
             call_key: str | None = None) -> str:
        handler = getattr(self, f"_tool_{tool}", None)
        if handler is None:
            raise ToolError(f"unknown tool {tool!r}")
        return handler(*coerce_args(tool, tuple(args)), deliver=deliver)

    # ---- contacts ------------------------------------------------------------------------
    def _contact(self, name: str) -> str:
        try:
            return matching.match_contact(name, self._lines("contacts_names"))
        except matching.LookupFailed as e:
            raise ToolError(str(e)) from None

    def _one_persons(self, script: str, chosen: str, what: str) -> list[tuple[str, str]]:
        """The (label, value) entries a contact script lists for the one person named `chosen`;
        two people of one name are not guessed between."""
        people: dict[str, list[tuple[str, str]]] = {}
        for line in self.script(script, chosen).split("\n"):
            if not line.strip():
                continue
            pid, _, rest = line.partition("\t")
            label, _, value = rest.partition("\t")
            entries = people.setdefault(pid, [])
            if value.strip():
                entries.append((label, value.strip()))
        if len(people) > 1:
            found = "; ".join(", ".join(v for _, v in entries) or f"no {what}" for entries in people.values())
            raise ToolError(f"{len(people)} contacts are named {chosen} ({what}: {found}); Pippin will not guess "
                            f"which: give one of them another name in Contacts, or say the {what}")
        entries = next(iter(people.values()), [])
        if not entries:
            raise ToolError(f"{chosen} has no {what} on file")
        return entries

    def _tool_get_phone_number(self, name: str, *, deliver: bool) -> str:
        chosen = self._contact(name)
        return choose_phone(chosen, self._one_persons("contact_phone", chosen, "phone number"), self.phone_region)

    def _tool_get_email_address(self, name: str, *, deliver: bool) -> str:
        chosen = self._contact(name)
        return self._one_persons("contact_email", chosen, "email address")[0][1]

    # ---- files ---------------------------------------------------------------------------
    def _spotlight(self, query: str) -> list[tuple[str, str]]:
        """Candidates from Spotlight, one `mdfind -name WORD` per word (argv, no query syntax)."""
        words = matching.file_query_words(query) or [query]
        found: dict[str, str] = {}
        for w in words:
            out = self._exec([self.mdfind, "-onlyin", self.home, "-name", w])
            for line in out.split("\n"):
                if line and not Path(line).is_dir():
                    found[line] = ""
        return list(found.items())

    def _tool_open_and_get_file_path(self, file_name: str, *, deliver: bool) -> str:
        if Path(file_name).is_absolute() and Path(file_name).exists():
            path = file_name
        else:
            try:
                path = matching.match_file(file_name, self._spotlight(file_name))
            except matching.LookupFailed as e:
                raise ToolError(str(e)) from None
        self.script("finder_open", path)
        return path

    def _tool_summarize_pdf(self, pdf_path: str, *, deliver: bool) -> str:
        if not Path(pdf_path).is_file():
            raise ToolError(f"no file at {pdf_path!r} (find files with open_and_get_file_path)")
        if PurePosixPath(pdf_path).suffix.lower() != ".pdf":
            raise ToolError(f"{PurePosixPath(pdf_path).name} is not a PDF")
        return self.summarize(read_pdf_text(pdf_path))

    def _existing(self, paths: list[str]) -> list[str]:
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise ToolError(f"no file at {missing[0]!r} (find files with open_and_get_file_path)")
        return paths

    # ---- calendar ------------------------------------------------------------------------
    def _pick(self, script: str, name: str, what: str) -> str:
        names = self._lines(script)
        if not names:
            raise ToolError(f"there is no {what}")
        if not name:
            return names[0]
        try:
            return matching.match_name(name, names, what)
        except matching.LookupFailed as e:
            raise ToolError(str(e)) from None

    def _tool_create_calendar_event(self, title: str, start_date: str, end_date: str, location: str,
                                    invitees: list[str], notes: str, calendar: str, *, deliver: bool) -> str:
        start, end = _date_parts(start_date, "start_date"), _date_parts(end_date, "end_date")
        if end_date <= start_date:
            raise ToolError(f"the event ends ({end_date}) before it starts ({start_date})")
        invitees = check_emails(invitees, "invitees")
        cal = self._pick("calendars_list", calendar, "calendar")
        self.script("calendar_event", title, location, notes, cal, _flag(deliver and bool(invitees)),
                    *start, *end, *_counted(invitees))
        return f"Created '{title}' on {cal}, {start_date} to {end_date}."

    # ---- mail ----------------------------------------------------------------------------
    def _tool_compose_new_email(self, recipients: list[str], cc: list[str], subject: str, context: str,
                                attachments: list[str], *, deliver: bool) -> str:
        if not recipients:
            raise ToolError("an email needs at least one recipient")
        to, cc = check_emails(recipients, "recipients"), check_emails(cc, "cc")
        self.script("mail_compose", subject, context, _flag(deliver), *_counted(to), *_counted(cc),
                    *_counted(self._existing(attachments)))
        return f"Email to {', '.join(to)} {'sent' if deliver else 'drafted (not sent; review it in Mail)'}."

    def _tool_reply_to_email(self, cc: list[str], context: str, attachments: list[str], *, deliver: bool) -> str:
        to = self.script("mail_reply", context, _flag(deliver), *_counted(check_emails(cc, "cc")),
                         *_counted(self._existing(attachments)))
        return f"Reply to {to} {'sent' if deliver else 'drafted (not sent; review it in Mail)'}."

    def _tool_forward_email(self, recipients: list[str], cc: list[str], context: str, attachments: list[str], *,
                            deliver: bool) -> str:
        if not recipients:
            raise ToolError("forwarding needs at least one recipient")
        to = check_emails(recipients, "recipients")
        self.script("mail_forward", context, _flag(deliver), *_counted(to),
                    *_counted(check_emails(cc, "cc")), *_counted(self._existing(attachments)))
        return f"Forward to {', '.join(to)} {'sent' if deliver else 'drafted (not sent; review it in Mail)'}."

    # ---- maps ----------------------------------------------------------------------------
    def _tool_maps_open_location(self, location: str, *, deliver: bool) -> str:
        return self.script("open_url", maps_search_url(location))

    def _tool_maps_show_directions(self, start_location: str, end_location: str, transport: str, *,
                                   deliver: bool) -> str:
        return self.script("open_url", maps_directions_url(start_location, end_location, transport))

    # ---- notes ---------------------------------------------------------------------------
    def _notes(self) -> list[tuple[str, str]]:
        return [tuple(line.split("\t", 1)) for line in self._lines("notes_list") if "\t" in line]  # type: ignore[misc]

    def _note(self, name: str, folder: str) -> tuple[str, str]:
        notes = self._notes()
        if folder:
            try:
                folder = matching.match_name(folder, sorted({f for f, _ in notes}), "folder")
            except matching.LookupFailed as e:
                raise ToolError(str(e)) from None
            notes = [(f, n) for f, n in notes if f == folder]
        try:
            chosen = matching.match_name(name, [n for _, n in notes], "note")
        except matching.LookupFailed as e:
            raise ToolError(str(e)) from None
        return next((f, n) for f, n in notes if n == chosen)

    def _tool_create_note(self, name: str, content: str, folder: str, *, deliver: bool) -> str:
        if not name.strip():
            raise ToolError("a note needs a name")
        target = "Notes"
        if folder:
            folders = sorted({f for f, _ in self._notes()})
            try:
                target = matching.match_name(folder, folders, "folder")
            except matching.LookupFailed:
                target = folder.strip()
        self.script("note_create", target, name, content)
        return f"Created note '{name}' in {target}."

    def _tool_open_note(self, name: str, folder: str, *, deliver: bool) -> str:
        f, n = self._note(name, folder)
        return self.script("note_open", f, n)

    def _tool_append_note_content(self, name: str, content: str, folder: str, *, deliver: bool) -> str:
        f, n = self._note(name, folder)
        self.script("note_append", f, n, content)
        return f"Added to '{n}' in {f}."

    # ---- reminders -----------------------------------------------------------------------
    def _tool_create_reminder(self, name: str, due_date: str, notes: str, list_name: str, priority: int,
                              all_day: bool, *, deliver: bool) -> str:
        if priority not in (0, 1, 5, 9):
            raise ToolError(f"priority must be 0 (none), 1 (high), 5 (medium) or 9 (low), got {priority!r}")
        due = _date_parts(due_date, "due_date") if due_date else ["0"] * 6
        if all_day and not due_date:
            raise ToolError("an all-day reminder needs a due date")
        lst = self._pick("reminder_lists", list_name, "reminder list")
        self.script("reminder_create", name, notes, lst, str(priority), _flag(all_day), _flag(bool(due_date)), *due)
        return f"Reminder '{name}' added to {lst}."

    # ---- messages ------------------------------------------------------------------------
    def _tool_send_sms(self, recipients: list[str], message: str, *, deliver: bool) -> str:
        to = check_sms_recipients(recipients, self.phone_region)
        if not message.strip():
            raise ToolError("the message is empty")
        if deliver:
            self.script("messages_send", message, *_counted(to))
            return f"Message to {', '.join(to)} sent."
        # A draft: Messages opens with the recipients and text filled in, for the user to send.
        url = "sms://open?addresses=" + quote(",".join(to), safe=",+@") + "&body=" + quote(message, safe="")
        self.script("open_url", url)
        return f"Message to {', '.join(to)} ready to send in Messages (not sent)."

    # ---- zoom ----------------------------------------------------------------------------
    def _tool_get_zoom_meeting_link(self, topic: str, start_time: str, duration: int, meeting_invitees: list[str],
                                    *, deliver: bool) -> str:
        if not self.zoom.settings.configured:
            raise ToolError(NOT_SET_UP)
        start = dt.datetime.strptime(start_time, DATETIME_FORMAT)
        return self.zoom.create_meeting(topic, start, duration, check_emails(meeting_invitees, "invitees"))
