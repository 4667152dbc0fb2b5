"""The real Mac: the 16 tools through `osascript FILE ARG...`.

User text never becomes AppleScript source: every script in ./applescript reads its
values from `on run argv`, and this module passes them as separate argv entries
(lists count-prefixed, dates as numbers). Choosing among candidates (which contact,
file or note the user meant) happens here, with the same rules as the simulated Mac."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from services.executor.common import (
    Summarizer,
    ToolError,
    check_emails,
    check_sms_recipients,
    coerce_args,
    extractive_summary,
    maps_directions_url,
    maps_search_url,
)
from shared import matching
from shared.plan import Value
from shared.validate import DATETIME_FORMAT

SCRIPT_DIR = Path(__file__).resolve().parent / "applescript"
ZOOM_API = "https://api.zoom.us/v2/users/me/meetings"
Runner = Callable[..., subprocess.CompletedProcess[str]]


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
                 summarizer: Summarizer | None = None, zoom_token: str | None = None,
                 zoom_api: str = ZOOM_API, timeout_s: float = 30.0, runner: Runner = subprocess.run) -> None:
        self.osascript = osascript
        self.mdfind = mdfind
        self.home = str(Path(home).expanduser())
        self.summarize = summarizer or extractive_summary
        self.zoom_token = zoom_token
        self.zoom_api = zoom_api
        self.timeout_s = timeout_s
        self._run_process = runner

    # ---- running scripts -----------------------------------------------------------------
    def _exec(self, argv: list[str]) -> str:
        try:
            proc = self._run_process(argv, capture_output=True, text=True, timeout=self.timeout_s, check=False)
        except FileNotFoundError:
            raise ToolError(f"{argv[0]} is not available (the AppleScript backend needs macOS)") from None
        except subprocess.TimeoutExpired:
            raise ToolError(f"{PurePosixPath(argv[1] if len(argv) > 1 else argv[0]).name} timed out") from None
        if proc.returncode != 0:
            raise ToolError(proc.stderr.strip() or f"{argv[0]} exited with {proc.returncode}")
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

    def _tool_get_phone_number(self, name: str, *, deliver: bool) -> str:
        chosen = self._contact(name)
        number = self.script("contact_phone", chosen)
        if not number:
            raise ToolError(f"{chosen} has no phone number on file")
        return number

    def _tool_get_email_address(self, name: str, *, deliver: bool) -> str:
        chosen = self._contact(name)
        address = self.script("contact_email", chosen)
        if not address:
            raise ToolError(f"{chosen} has no email address on file")
        return address

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
        to = check_sms_recipients(recipients)
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
        if not self.zoom_token:
            raise ToolError("Zoom is not set up: put a Zoom API token in config/pippin.toml under "
                            "[executor.zoom] token = \"...\" (a Server-to-Server OAuth app's token)")
        start = dt.datetime.strptime(start_time, DATETIME_FORMAT)
        body = {"topic": topic, "type": 2, "start_time": start.strftime("%Y-%m-%dT%H:%M:%S"),
                "duration": duration,
                "settings": {"meeting_invitees": [{"email": e} for e in check_emails(meeting_invitees, "invitees")]}}
        req = urllib.request.Request(self.zoom_api, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {self.zoom_token}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return str(json.load(resp)["join_url"])
        except urllib.error.HTTPError as e:
            raise ToolError(f"Zoom refused the meeting: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, TimeoutError, KeyError, json.JSONDecodeError) as e:
            raise ToolError(f"could not reach Zoom: {e}") from None
