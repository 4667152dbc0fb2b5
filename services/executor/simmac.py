"""The simulated Mac: the 16 tools acting on real state in SQLite, seeded from a world
JSON file (tests/shared/world/default.json). Tests, the eval harness and the default
demo run here; `applescript.py` is the same contract on a real Mac.

Every side effect (and every thing shown on screen) is appended to the `effects`
table, split into the structured part the evaluation compares (who, when, where)
and free text it ignores (bodies, titles)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

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
from shared import catalog, matching
from shared.plan import Value
from shared.validate import DATETIME_FORMAT

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS contacts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, company TEXT);
CREATE TABLE IF NOT EXISTS phones (contact_id INTEGER, pos INTEGER, number TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS emails (contact_id INTEGER, pos INTEGER, address TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, folder TEXT NOT NULL, name TEXT NOT NULL,
                                  body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS note_folders (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS calendars (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS reminder_lists (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, title TEXT, start TEXT, end TEXT,
    location TEXT, invitees TEXT, notes TEXT, calendar TEXT, invites_sent INTEGER);
CREATE TABLE IF NOT EXISTS reminders (id INTEGER PRIMARY KEY, name TEXT, due TEXT, notes TEXT,
    list TEXT, priority INTEGER, all_day INTEGER);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, app TEXT, kind TEXT, recipients TEXT,
    cc TEXT, subject TEXT, body TEXT, attachments TEXT, status TEXT);
CREATE TABLE IF NOT EXISTS zoom_meetings (id INTEGER PRIMARY KEY, topic TEXT, start TEXT,
    duration INTEGER, invitees TEXT, link TEXT);
CREATE TABLE IF NOT EXISTS effects (seq INTEGER PRIMARY KEY, call_key TEXT, tool TEXT NOT NULL,
    kind TEXT NOT NULL, structured TEXT NOT NULL, detail TEXT NOT NULL, at REAL NOT NULL);
"""

DEFAULT_NOTE_FOLDER = "Notes"


@dataclass(frozen=True)
class Effect:
    tool: str
    kind: str
    structured: dict[str, Any]
    detail: dict[str, Any]
    call_key: str | None = None


def _parse_time(text: str, what: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text, DATETIME_FORMAT)
    except ValueError:
        raise ToolError(f"{what} must be 'YYYY-MM-DD HH:MM:SS', got {text!r}") from None


class SimulatedMac:
    """One simulated Mac in one SQLite database (":memory:" or a file, shared by processes).

    `latency_s` maps an app name to seconds each call to it takes, to stand in for the
    time AppleScript spends driving the real app (0 by default)."""

    def __init__(
        self,
        db_path: str | Path = ":memory:",
        world: dict[str, Any] | str | Path | None = None,
        *,
        summarizer: Summarizer | None = None,
        latency_s: dict[str, float] | None = None,
    ) -> None:
        self.db_path = str(db_path)
        self._db = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.row_factory = sqlite3.Row
        if self.db_path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.RLock()  # one connection, many scheduler threads
        self._db.executescript(_SCHEMA)
        self.summarize: Summarizer = summarizer or extractive_summary
        self.latency_s = latency_s or {}
        if world is not None and not self._meta("loaded"):
            self.load_world(world)

    # ---- world -------------------------------------------------------------------------
    def load_world(self, world: dict[str, Any] | str | Path) -> None:
        if not isinstance(world, dict):
            world = json.loads(Path(world).read_text(encoding="utf-8"))
        with self._tx() as db:
            for c in world.get("contacts", []):
                cid = db.execute("INSERT INTO contacts(name, company) VALUES (?, ?)",
                                 (c["name"], c.get("company"))).lastrowid
                for i, p in enumerate(c.get("phones", [])):
                    db.execute("INSERT INTO phones VALUES (?, ?, ?)", (cid, i, p))
                for i, e in enumerate(c.get("emails", [])):
                    db.execute("INSERT INTO emails VALUES (?, ?, ?)", (cid, i, e))
            for f in world.get("files", []):
                db.execute("INSERT OR REPLACE INTO files VALUES (?, ?)", (f["path"], f.get("text", "")))
            folders = {DEFAULT_NOTE_FOLDER} | {n["folder"] for n in world.get("notes", [])}
            db.executemany("INSERT OR IGNORE INTO note_folders VALUES (?)", [(f,) for f in folders])
            for n in world.get("notes", []):
                db.execute("INSERT INTO notes(folder, name, body) VALUES (?, ?, ?)",
                           (n["folder"], n["name"], n.get("body", "")))
            db.executemany("INSERT OR IGNORE INTO calendars VALUES (?)",
                           [(c,) for c in world.get("calendars", [])])
            db.executemany("INSERT OR IGNORE INTO reminder_lists VALUES (?)",
                           [(r,) for r in world.get("reminder_lists", [])])
            meta = {
                "loaded": "1",
                "now": world.get("now", ""),
                "user": json.dumps(world.get("user", {})),
                "selected_mail": json.dumps(world.get("mail", {}).get("selected")),
                "calendars_order": json.dumps(world.get("calendars", [])),
                "lists_order": json.dumps(world.get("reminder_lists", [])),
                "timezone": world.get("timezone") or "",
            }
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(meta.items()))

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    class _Tx:
        def __init__(self, mac: SimulatedMac) -> None:
            self.mac = mac

        def __enter__(self) -> sqlite3.Connection:
            self.mac._lock.acquire()
            self.mac._db.execute("BEGIN IMMEDIATE")
            return self.mac._db

        def __exit__(self, exc_type: object, *_: object) -> None:
            try:
                self.mac._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.mac._lock.release()

    def _tx(self) -> SimulatedMac._Tx:
        return SimulatedMac._Tx(self)

    # ---- the call interface ------------------------------------------------------------
    def call(self, tool: str, args: tuple[Value, ...] | list[Value], *, deliver: bool = False,
             call_key: str | None = None) -> str:
        """Run one tool. `deliver` False leaves outgoing messages as drafts for the user to
        send (as TinyAgent does); True sends them. Raises ToolError with a user-facing
        message; never lets another exception out for bad input."""
        handler: Callable[..., str] | None = getattr(self, f"_tool_{tool}", None)
        if handler is None:
            raise ToolError(f"unknown tool {tool!r}")
        values = coerce_args(tool, tuple(args))
        delay = self.latency_s.get(catalog.get(tool).app, 0.0)
        if delay:
            time.sleep(delay)  # the app's own time, outside the lock: apps run side by side
        with self._tx() as db:
            self._effects: list[Effect] = []
            result = handler(db, *values, deliver=deliver)
            for e in self._effects:
                db.execute(
                    "INSERT INTO effects(call_key, tool, kind, structured, detail, at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (call_key, e.tool, e.kind, json.dumps(e.structured, sort_keys=True),
                     json.dumps(e.detail, sort_keys=True), time.time()),
                )
        return result

    def _effect(self, tool: str, kind: str, structured: dict[str, Any], **detail: Any) -> None:
        self._effects.append(Effect(tool, kind, structured, detail))

    def effects(self) -> list[Effect]:
        rows = self._db.execute("SELECT * FROM effects ORDER BY seq").fetchall()
        return [Effect(r["tool"], r["kind"], json.loads(r["structured"]), json.loads(r["detail"]),
                       r["call_key"]) for r in rows]

    def inventory(self) -> dict[str, list[str] | str]:
        """The names planning may ground in, as they stand now (notes made since included)."""
        with self._lock:
            db = self._db
            order = {k: json.loads(self._meta(k) or "[]") for k in ("calendars_order", "lists_order")}

            def names(table: str) -> list[str]:
                return [r[0] for r in db.execute(f"SELECT name FROM {table} ORDER BY rowid")]

            def ordered(found: list[str], first: list[str]) -> list[str]:
                return [n for n in first if n in found] + [n for n in found if n not in first]

            return {"calendars": ordered(names("calendars"), order["calendars_order"]),
                    "reminder_lists": ordered(names("reminder_lists"), order["lists_order"]),
                    "note_folders": names("note_folders"),
                    "notes": list(dict.fromkeys(names("notes"))),
                    "contacts": names("contacts"),
                    "timezone": self._meta("timezone") or ""}

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read-only access for tests and the CLI."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        self._db.close()

    # ---- lookups -----------------------------------------------------------------------
    def _contact(self, db: sqlite3.Connection, name: str) -> sqlite3.Row:
        rows = db.execute("SELECT id, name FROM contacts ORDER BY id").fetchall()
        try:
            chosen = matching.match_contact(name, [r["name"] for r in rows])
        except matching.LookupFailed as e:
            raise ToolError(str(e)) from None
        return next(r for r in rows if r["name"] == chosen)

    def _tool_get_phone_number(self, db: sqlite3.Connection, name: str, *, deliver: bool) -> str:
        c = self._contact(db, name)
        row = db.execute("SELECT number FROM phones WHERE contact_id = ? ORDER BY pos",
                         (c["id"],)).fetchone()
        if row is None:
            raise ToolError(f"{c['name']} has no phone number on file")
        return row["number"]

    def _tool_get_email_address(self, db: sqlite3.Connection, name: str, *, deliver: bool) -> str:
        c = self._contact(db, name)
        row = db.execute("SELECT address FROM emails WHERE contact_id = ? ORDER BY pos",
                         (c["id"],)).fetchone()
        if row is None:
            raise ToolError(f"{c['name']} has no email address on file")
        return row["address"]

    def _files(self, db: sqlite3.Connection) -> list[tuple[str, str]]:
        return [(r["path"], r["text"]) for r in db.execute("SELECT path, text FROM files")]

    def _tool_open_and_get_file_path(self, db: sqlite3.Connection, file_name: str, *,
                                     deliver: bool) -> str:
        try:
            path = matching.match_file(file_name, self._files(db))
        except matching.LookupFailed as e:
            raise ToolError(str(e)) from None
        self._effect("open_and_get_file_path", "open_file", {"path": path})
        return path

    def _existing_file(self, db: sqlite3.Connection, path: str) -> sqlite3.Row:
        row = db.execute("SELECT path, text FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            raise ToolError(f"no file at {path!r} (find files with open_and_get_file_path)")
        return row

    def _tool_summarize_pdf(self, db: sqlite3.Connection, pdf_path: str, *, deliver: bool) -> str:
        row = self._existing_file(db, pdf_path)
        if PurePosixPath(pdf_path).suffix.lower() != ".pdf":
            raise ToolError(f"{PurePosixPath(pdf_path).name} is not a PDF")
        return self.summarize(row["text"])

    # ---- calendar ----------------------------------------------------------------------
    def _pick(self, db: sqlite3.Connection, table: str, name: str, default_key: str,
              what: str) -> str:
        names = json.loads(self._meta(default_key) or "[]") or [
            r["name"] for r in db.execute(f"SELECT name FROM {table}")
        ]
        if not name:
            if not names:
                raise ToolError(f"there is no {what}")
            return names[0]
        try:
            return matching.match_name(name, names, what)
        except matching.LookupFailed as e:
            raise ToolError(str(e)) from None

    def _tool_create_calendar_event(self, db: sqlite3.Connection, title: str, start_date: str,
                                    end_date: str, location: str, invitees: list[str], notes: str,
                                    calendar: str, *, deliver: bool) -> str:
        start = _parse_time(start_date, "start_date")
        end = _parse_time(end_date, "end_date")
        if end <= start:
            raise ToolError(f"the event ends ({end_date}) before it starts ({start_date})")
        invitees = check_emails(invitees, "invitees")
        cal = self._pick(db, "calendars", calendar, "calendars_order", "calendar")
        sent = bool(invitees) and deliver
        db.execute("INSERT INTO events(title, start, end, location, invitees, notes, calendar, "
                   "invites_sent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (title, start_date, end_date, location, json.dumps(invitees), notes, cal, sent))
        self._effect("create_calendar_event", "event",
                     {"start": start_date, "end": end_date, "invitees": sorted(invitees),
                      "calendar": cal},
                     title=title, location=location, notes=notes, invites_sent=sent)
        guests = ""
        if invitees:
            guests = f" with {', '.join(invitees)}" + ("" if sent else " (invitations not sent yet)")
        return f"Created '{title}' on {cal}, {start_date} to {end_date}{guests}."

    # ---- mail --------------------------------------------------------------------------
    def _attachments(self, db: sqlite3.Connection, paths: list[str]) -> list[str]:
        return [self._existing_file(db, p)["path"] for p in paths]

    def _mail(self, db: sqlite3.Connection, tool: str, kind: str, recipients: list[str],
              cc: list[str], subject: str, body: str, attachments: list[str], deliver: bool) -> str:
        status = "sent" if deliver else "draft"
        db.execute("INSERT INTO outbox(app, kind, recipients, cc, subject, body, attachments, status)"
                   " VALUES ('Mail', ?, ?, ?, ?, ?, ?, ?)",
                   (kind, json.dumps(recipients), json.dumps(cc), subject, body,
                    json.dumps(attachments), status))
        self._effect(tool, kind,
                     {"to": sorted(a.casefold() for a in recipients),
                      "cc": sorted(a.casefold() for a in cc), "attachments": sorted(attachments)},
                     subject=subject, body=body, status=status)
        what = {"email": "Email", "reply": "Reply", "forward": "Forward"}[kind]
        verb = "sent" if deliver else "drafted (not sent; review it in Mail)"
        extra = f" with {len(attachments)} attachment(s)" if attachments else ""
        return f"{what} to {', '.join(recipients)} {verb}{extra}."

    def _selected_mail(self) -> dict[str, Any]:
        selected = json.loads(self._meta("selected_mail") or "null")
        if not selected:
            raise ToolError("no email is selected in Mail")
        return selected

    def _tool_compose_new_email(self, db: sqlite3.Connection, recipients: list[str], cc: list[str],
                                subject: str, context: str, attachments: list[str], *,
                                deliver: bool) -> str:
        if not recipients:
            raise ToolError("an email needs at least one recipient")
        to = check_emails(recipients, "recipients")
        return self._mail(db, "compose_new_email", "email", to, check_emails(cc, "cc"), subject,
                          context, self._attachments(db, attachments), deliver)

    def _tool_reply_to_email(self, db: sqlite3.Connection, cc: list[str], context: str,
                             attachments: list[str], *, deliver: bool) -> str:
        sel = self._selected_mail()
        sender = sel["from"].split("<")[-1].rstrip(">").strip()
        return self._mail(db, "reply_to_email", "reply", [sender], check_emails(cc, "cc"),
                          "Re: " + sel.get("subject", ""), context,
                          self._attachments(db, attachments), deliver)

    def _tool_forward_email(self, db: sqlite3.Connection, recipients: list[str], cc: list[str],
                            context: str, attachments: list[str], *, deliver: bool) -> str:
        sel = self._selected_mail()
        if not recipients:
            raise ToolError("forwarding needs at least one recipient")
        to = check_emails(recipients, "recipients")
        return self._mail(db, "forward_email", "forward", to, check_emails(cc, "cc"),
                          "Fwd: " + sel.get("subject", ""), context,
                          self._attachments(db, attachments), deliver)

    # ---- maps --------------------------------------------------------------------------
    def _tool_maps_open_location(self, db: sqlite3.Connection, location: str, *,
                                 deliver: bool) -> str:
        url = maps_search_url(location)
        self._effect("maps_open_location", "map", {"place": matching.normalize(location)},
                     url=url)
        return url

    def _tool_maps_show_directions(self, db: sqlite3.Connection, start_location: str,
                                   end_location: str, transport: str, *, deliver: bool) -> str:
        url = maps_directions_url(start_location, end_location, transport)
        self._effect("maps_show_directions", "directions",
                     {"from": matching.normalize(start_location),
                      "to": matching.normalize(end_location), "transport": transport or "d"},
                     url=url)
        return url

    # ---- notes -------------------------------------------------------------------------
    def _folder(self, db: sqlite3.Connection, folder: str) -> str | None:
        if not folder:
            return None
        names = [r["name"] for r in db.execute("SELECT name FROM note_folders ORDER BY name")]
        try:
            return matching.match_name(folder, names, "folder")
        except matching.LookupFailed as e:
            raise ToolError(str(e)) from None

    def _note(self, db: sqlite3.Connection, name: str, folder: str) -> sqlite3.Row:
        f = self._folder(db, folder)
        rows = db.execute("SELECT * FROM notes" + (" WHERE folder = ?" if f else "") + " ORDER BY id",
                          (f,) if f else ()).fetchall()
        try:
            chosen = matching.match_name(name, [r["name"] for r in rows], "note")
        except matching.LookupFailed as e:
            where = f" in folder {f}" if f else ""
            raise ToolError(f"{e}{where}") from None
        return next(r for r in rows if r["name"] == chosen)

    def _tool_create_note(self, db: sqlite3.Connection, name: str, content: str, folder: str, *,
                          deliver: bool) -> str:
        if not name.strip():
            raise ToolError("a note needs a name")
        names = [r["name"] for r in db.execute("SELECT name FROM note_folders")]
        target = DEFAULT_NOTE_FOLDER
        if folder:
            try:
                target = matching.match_name(folder, names, "folder")
            except matching.LookupFailed:
                target = folder.strip()  # Notes makes the folder, as the real tool does
                db.execute("INSERT OR IGNORE INTO note_folders VALUES (?)", (target,))
        db.execute("INSERT INTO notes(folder, name, body) VALUES (?, ?, ?)", (target, name, content))
        self._effect("create_note", "note_create",
                     {"name": matching.normalize(name), "folder": target}, content=content)
        return f"Created note '{name}' in {target}."

    def _tool_open_note(self, db: sqlite3.Connection, name: str, folder: str, *,
                        deliver: bool) -> str:
        note = self._note(db, name, folder)
        self._effect("open_note", "note_open", {"name": note["name"], "folder": note["folder"]})
        return note["body"]

    def _tool_append_note_content(self, db: sqlite3.Connection, name: str, content: str,
                                  folder: str, *, deliver: bool) -> str:
        note = self._note(db, name, folder)
        body = note["body"] + ("\n" if note["body"] else "") + content
        db.execute("UPDATE notes SET body = ? WHERE id = ?", (body, note["id"]))
        self._effect("append_note_content", "note_append",
                     {"name": note["name"], "folder": note["folder"]}, content=content)
        return f"Added to '{note['name']}' in {note['folder']}."

    # ---- reminders ---------------------------------------------------------------------
    def _tool_create_reminder(self, db: sqlite3.Connection, name: str, due_date: str, notes: str,
                              list_name: str, priority: int, all_day: bool, *,
                              deliver: bool) -> str:
        if due_date:
            due = _parse_time(due_date, "due_date")
            if all_day and due.time() != dt.time(0, 0):
                raise ToolError(f"an all-day reminder is due at midnight, got {due_date}")
        elif all_day:
            raise ToolError("an all-day reminder needs a due date")
        if type(priority) is not int or priority not in (0, 1, 5, 9):
            raise ToolError(f"priority must be 0 (none), 1 (high), 5 (medium) or 9 (low), "
                            f"got {priority!r}")
        lst = self._pick(db, "reminder_lists", list_name, "lists_order", "reminder list")
        db.execute("INSERT INTO reminders(name, due, notes, list, priority, all_day) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (name, due_date, notes, lst, priority, all_day))
        self._effect("create_reminder", "reminder",
                     {"due": due_date, "all_day": bool(all_day), "list": lst, "priority": priority},
                     name=name, notes=notes)
        when = f", due {due_date[:10] if all_day else due_date}" if due_date else ""
        return f"Reminder '{name}' added to {lst}{when}."

    # ---- messages ----------------------------------------------------------------------
    def _tool_send_sms(self, db: sqlite3.Connection, recipients: list[str], message: str, *,
                       deliver: bool) -> str:
        to = check_sms_recipients(recipients)
        if not message.strip():
            raise ToolError("the message is empty")
        status = "sent" if deliver else "draft"
        db.execute("INSERT INTO outbox(app, kind, recipients, cc, subject, body, attachments, "
                   "status) VALUES ('Messages', 'sms', ?, '[]', '', ?, '[]', ?)",
                   (json.dumps(to), message, status))
        self._effect("send_sms", "sms", {"to": sorted(to)}, body=message, status=status)
        verb = "sent" if deliver else "ready to send in Messages (not sent)"
        return f"Message to {', '.join(to)} {verb}."

    # ---- zoom --------------------------------------------------------------------------
    def _tool_get_zoom_meeting_link(self, db: sqlite3.Connection, topic: str, start_time: str,
                                    duration: int, meeting_invitees: list[str], *,
                                    deliver: bool) -> str:
        _parse_time(start_time, "start_time")
        if type(duration) is not int or duration <= 0:
            raise ToolError(f"duration must be a positive number of minutes, got {duration!r}")
        invitees = check_emails(meeting_invitees, "meeting invitees")
        n = db.execute("SELECT COUNT(*) FROM zoom_meetings").fetchone()[0] + 1
        # Deterministic per database, so two runs of one plan produce the same links.
        meeting_id = 80000000000 + int(hashlib.sha256(f"{n}".encode()).hexdigest()[:8], 16) % 10**9
        link = f"https://zoom.us/j/{meeting_id}"
        db.execute("INSERT INTO zoom_meetings(topic, start, duration, invitees, link) "
                   "VALUES (?, ?, ?, ?, ?)", (topic, start_time, duration, json.dumps(invitees), link))
        self._effect("get_zoom_meeting_link", "zoom",
                     {"start": start_time, "duration": duration, "invitees": sorted(invitees)},
                     topic=topic, link=link)
        return link
