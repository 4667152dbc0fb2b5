"""The real Mac: the 16 tools through `osascript FILE ARG...`.

User text never becomes AppleScript source: every script in ./applescript reads its
values from `on run argv`, and this module passes them as separate argv entries
(lists count-prefixed, dates as numbers). Choosing among candidates (which contact,
file or note the user meant) happens here, with the same rules as the simulated Mac."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import threading
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


# The app each script sends Apple events to. macOS holds an app's first event from Pippin until the
# user answers its consent prompt, so that call gets a long timeout, and first calls go one at a
# time: a parallel plan would otherwise raise several prompts at once.
SCRIPT_APPS = {"contacts_names": "Contacts", "contact_phone": "Contacts", "contact_email": "Contacts",
               "calendars_list": "Calendar", "calendar_event": "Calendar",
               "reminder_lists": "Reminders", "reminder_create": "Reminders",
               "notes_list": "Notes", "note_create": "Notes", "note_open": "Notes", "note_append": "Notes",
               "mail_compose": "Mail", "mail_reply": "Mail", "mail_forward": "Mail",
               "messages_send": "Messages", "finder_open": "Finder"}
FIRST_CALL_TIMEOUT_S = 120.0

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


# Notes' folder for deleted notes, as macOS names it in a few languages: never a place to look.
RECENTLY_DELETED = frozenset({"Recently Deleted", "Zuletzt gelöscht", "Suppressions récentes",
                              "Eliminados recientemente", "Eliminati di recente", "Recent verwijderd",
                              "Apagados recentemente", "最近删除", "最近削除した項目"})
# Files that run as programs when opened: Pippin shows them in Finder instead.
RUNS_WHEN_OPENED = frozenset({".command", ".app", ".sh", ".tool", ".terminal", ".workflow", ".scpt",
                              ".applescript", ".scptd", ".pkg", ".mpkg", ".action", ".py", ".rb", ".pl"})
FILES_FIX = ("System Settings > Privacy & Security > Files and Folders (or Full Disk Access), and allow the app "
             "Pippin runs in")
TEXT_FORWARDING_FIX = ("on your iPhone: Settings > Messages > Text Message Forwarding, switch on this Mac; then "
                       "Pippin sends texts to numbers as SMS")


def note_html(text: str) -> str:
    """A note's body as Notes stores it: HTML, one <div> a line. Text stays text (`<`, `&`
    escaped) and its line breaks stay."""
    return "".join(f"<div>{html.escape(line, quote=False)}</div>" if line.strip() else "<div><br></div>"
                   for line in text.splitlines() or [""])


def maps_app_url(web_url: str) -> str:
    """The maps.apple.com link as a maps: URL, which opens Maps itself rather than the browser
    (a default browser other than Safari shows web Maps for the https link)."""
    return web_url.replace("https://maps.apple.com/", "maps://", 1)


def _hidden_or_library(path: str, home: str) -> bool:
    """Spotlight also finds the copies apps keep (~/Library caches, mail downloads) and hidden
    folders (the Trash): never the file a user means."""
    full = Path(path)
    parts = full.relative_to(home).parts if full.is_relative_to(home) else full.parts
    return (bool(parts) and parts[0] == "Library") or any(p.startswith(".") for p in parts)


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
                 phone_region: str = "US", default_calendar: str = "") -> None:
        self.osascript = osascript
        self.mdfind = mdfind
        self.home = str(Path(home).expanduser())
        self.summarize = summarizer or extractive_summary
        self.zoom = zoom or ZoomClient(ZoomSettings(), timeout_s=timeout_s)
        self.timeout_s = timeout_s
        self._run_process = runner
        self.phone_region = phone_region  # how numbers without a country code are read
        self._answered: set[str] = set()  # apps that have answered an Apple event from this process
        self._first_contact = threading.Lock()
        # Calendar's scripting has no "default calendar": the configured one, else the first writable.
        self.default_calendar = default_calendar

    # ---- running scripts -----------------------------------------------------------------
    def _exec(self, argv: list[str], timeout_s: float | None = None) -> str:
        try:
            proc = self._run_process(argv, capture_output=True, text=True, timeout=timeout_s or self.timeout_s,
                                     check=False)
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
        argv = [self.osascript, str(SCRIPT_DIR / f"{name}.applescript"), *args]
        app = SCRIPT_APPS.get(name)
        if app is None or app in self._answered:
            return self._exec(argv)
        with self._first_contact:  # one consent prompt at a time, each with time to be answered
            if app in self._answered:
                return self._exec(argv)
            out = self._exec(argv, max(self.timeout_s, FIRST_CALL_TIMEOUT_S))
            self._answered.add(app)
            return out

    def _lines(self, name: str) -> list[str]:
        out = self.script(name)
        return [line for line in out.split("\n") if line]

    def inventory(self) -> dict[str, list[str] | str]:
        """The names planning may ground in, read from the apps (one Apple event per kind, per
        Notes folder); a kind that cannot be read (no permission yet) is left empty: unknown."""
        def read(script: str) -> list[str]:
            try:
                return self._lines(script)
            except ToolError:
                return []

        try:
            folders, notes = self._folders_and_notes()
        except ToolError:
            folders, notes = [], []
        return {"calendars": read("calendars_list"), "reminder_lists": read("reminder_lists"),
                "note_folders": folders, "notes": list(dict.fromkeys(n for _, n in notes)),
                "contacts": list(dict.fromkeys(read("contacts_names"))), "timezone": ""}

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
    def _is_file(self, path: str) -> bool:
        """Whether a file is there; macOS refuses to say for folders Pippin was not allowed into."""
        try:
            return Path(path).is_file()
        except PermissionError:
            raise ToolError(f"Pippin may not look into {PurePosixPath(path).parent}: open {FILES_FIX}") from None

    def _spotlight(self, query: str) -> list[tuple[str, str]]:
        """Candidates from Spotlight, one `mdfind -name WORD` per word (argv, no query syntax):
        files the user keeps, not app copies under ~/Library or anything hidden."""
        words = matching.file_query_words(query) or [query]
        found: dict[str, str] = {}
        for w in words:
            out = self._exec([self.mdfind, "-onlyin", self.home, "-name", w])
            for line in out.split("\n"):
                if not line or _hidden_or_library(line, self.home):
                    continue
                try:
                    if Path(line).is_dir():
                        continue
                except PermissionError:  # a folder Pippin may not look into: not a file it can use
                    continue
                found[line] = ""
        return list(found.items())

    def _tool_open_and_get_file_path(self, file_name: str, *, deliver: bool) -> str:
        if Path(file_name).is_absolute() and self._is_file(file_name):
            path = file_name
        else:
            try:
                path = matching.match_file(file_name, self._spotlight(file_name))
            except matching.LookupFailed as e:
                raise ToolError(str(e)) from None
        runs = PurePosixPath(path).suffix.lower() in RUNS_WHEN_OPENED
        self.script("finder_open", path, "reveal" if runs else "open")
        return path

    def _tool_summarize_pdf(self, pdf_path: str, *, deliver: bool) -> str:
        if not self._is_file(pdf_path):
            raise ToolError(f"no file at {pdf_path!r} (find files with open_and_get_file_path)")
        if PurePosixPath(pdf_path).suffix.lower() != ".pdf":
            raise ToolError(f"{PurePosixPath(pdf_path).name} is not a PDF")
        return self.summarize(read_pdf_text(pdf_path))

    def _existing(self, paths: list[str]) -> list[str]:
        missing = [p for p in paths if not self._is_file(p)]
        if missing:
            raise ToolError(f"no file at {missing[0]!r} (find files with open_and_get_file_path)")
        return paths

    # ---- calendar ------------------------------------------------------------------------
    def _pick(self, script: str, name: str, what: str, default: str = "") -> str:
        names = self._lines(script)
        if not names:
            raise ToolError(f"there is no {what}")
        if not name and not default:
            return names[0]
        if not name:
            if default not in names:
                raise ToolError(f"the default {what} {default!r} (pippin.toml) is not on this Mac; there are: "
                                + ", ".join(names))
            return default
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
        cal = self._pick("calendars_list", calendar, "calendar", self.default_calendar)
        if deliver or not invitees:
            self.script("calendar_event", title, location, notes, cal, *start, *end, *_counted(invitees))
            invited = f"; {', '.join(invitees)} invited" if invitees else ""
            return f"Created '{title}' on {cal}, {start_date} to {end_date}{invited}."
        # A draft invites no one: adding an attendee may send the invitation at once (iCloud,
        # Exchange). The addresses wait in the event's notes.
        waiting = "Invite: " + ", ".join(invitees)
        self.script("calendar_event", title, location, f"{notes}\n{waiting}" if notes else waiting, cal,
                    *start, *end, "0")
        return (f"Created '{title}' on {cal}, {start_date} to {end_date}; not invited yet (drafts send nothing): "
                f"{', '.join(invitees)}, listed in the event's notes for you to invite.")

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
        out = self.script("mail_reply", context, _flag(deliver), *_counted(check_emails(cc, "cc")),
                          *_counted(self._existing(attachments)))
        to, _, state = out.partition("\t")
        if state == "text-lost":
            raise ToolError(f"Mail left the text out of the reply to {to}, so nothing was sent: the reply is open in "
                            "Mail and the text is on the clipboard; paste it, then send")
        return f"Reply to {to} {'sent' if deliver else 'drafted (not sent; review it in Mail)'}."

    def _tool_forward_email(self, recipients: list[str], cc: list[str], context: str, attachments: list[str], *,
                            deliver: bool) -> str:
        if not recipients:
            raise ToolError("forwarding needs at least one recipient")
        to = check_emails(recipients, "recipients")
        state = self.script("mail_forward", context, _flag(deliver), *_counted(to),
                            *_counted(check_emails(cc, "cc")), *_counted(self._existing(attachments)))
        if state == "text-lost":
            raise ToolError(f"Mail left your note out of the forward to {', '.join(to)}, so nothing was sent: it is "
                            "open in Mail and the note is on the clipboard; paste it, then send")
        return f"Forward to {', '.join(to)} {'sent' if deliver else 'drafted (not sent; review it in Mail)'}."

    # ---- maps ----------------------------------------------------------------------------
    # Maps opens at the maps: URL; the result is the https link, which anyone can open.
    def _tool_maps_open_location(self, location: str, *, deliver: bool) -> str:
        url = maps_search_url(location)
        self.script("open_url", maps_app_url(url))
        return url

    def _tool_maps_show_directions(self, start_location: str, end_location: str, transport: str, *,
                                   deliver: bool) -> str:
        url = maps_directions_url(start_location, end_location, transport)
        self.script("open_url", maps_app_url(url))
        return url

    # ---- notes ---------------------------------------------------------------------------
    def _folders_and_notes(self) -> tuple[list[str], list[tuple[str, str]]]:
        """The default account's folders (its default folder first) and its (folder, note) pairs,
        Recently Deleted left out."""
        folders: list[str] = []
        notes: list[tuple[str, str]] = []
        for line in self._lines("notes_list"):
            folder, sep, name = line.partition("\t")
            if not sep or folder in RECENTLY_DELETED:
                continue
            if folder not in folders:
                folders.append(folder)
            if name:
                notes.append((folder, name))
        return folders, notes

    def _note(self, name: str, folder: str) -> tuple[str, str]:
        _, notes = self._folders_and_notes()
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
        folders, _ = self._folders_and_notes()
        target = folders[0] if folders else "Notes"  # the default folder, whatever its name in this language
        if folder:
            try:
                target = matching.match_name(folder, folders, "folder")
            except matching.LookupFailed:
                target = folder.strip()
        body = f"<div><h1>{html.escape(name, quote=False)}</h1></div>" + (note_html(content) if content else "")
        self.script("note_create", target, name, body)
        return f"Created note '{name}' in {target}."

    def _tool_open_note(self, name: str, folder: str, *, deliver: bool) -> str:
        f, n = self._note(name, folder)
        return self.script("note_open", f, n)

    def _tool_append_note_content(self, name: str, content: str, folder: str, *, deliver: bool) -> str:
        f, n = self._note(name, folder)
        if self.script("note_append", f, n, note_html(content)) == "has attachments":
            raise ToolError(f"'{n}' holds attachments or images, which Notes would drop if Pippin added text to it: "
                            "nothing was changed; add the text in Notes, or ask for a new note")
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
            out = self.script("messages_send", message, *_counted(to))
            services = dict(line.split("\t", 1) for line in out.split("\n") if "\t" in line)
            unsure = [r for r in to if services.get(r) == "iMessage" and "@" not in r]
            if not unsure:
                return f"Message to {', '.join(to)} sent."
            # Messages answers at once; a number without iMessage shows "Not Delivered" only later.
            return (f"Message to {', '.join(to)} sent over iMessage; if {', '.join(unsure)} has no iMessage, Messages "
                    f"will show Not Delivered. To text any number: {TEXT_FORWARDING_FIX}.")
        # A draft: Messages opens with the recipients filled in; the text too, where macOS reads
        # the URL's body, and it is on the clipboard where it does not.
        url = "sms://open?addresses=" + quote(",".join(to), safe=",+@") + "&body=" + quote(message, safe="")
        self.script("messages_draft", url, message)
        return f"Message to {', '.join(to)} ready to send in Messages (not sent; the text is also on the clipboard)."

    # ---- zoom ----------------------------------------------------------------------------
    def _tool_get_zoom_meeting_link(self, topic: str, start_time: str, duration: int, meeting_invitees: list[str],
                                    *, deliver: bool) -> str:
        if not self.zoom.settings.configured:
            raise ToolError(NOT_SET_UP)
        start = dt.datetime.strptime(start_time, DATETIME_FORMAT)
        return self.zoom.create_meeting(topic, start, duration, check_emails(meeting_invitees, "invitees"))
