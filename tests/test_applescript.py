"""The AppleScript backend, checked by the exact argv it would run.

A recorded stand-in (tests/standins/osascript, also as mdfind) takes the place of
macOS's osascript on Linux: it logs argv and prints canned replies."""

import json
import os
import re
from pathlib import Path

import pytest

from services.executor.applescript import SCRIPT_DIR, AppleScriptMac
from services.executor.common import ToolError
from shared import catalog

STANDINS = Path(__file__).parent / "standins"
CONTACTS = "Sarah Kim\nSarah Lopez\nSid Jha\nNicholas Lee"
NOTES = "Notes\tGroceries\nWork\tStandup Notes\nTravel\tPacking List"


@pytest.fixture
def mac(tmp_path, monkeypatch):
    log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("PIPPIN_STANDIN_LOG", str(log))
    pdf = tmp_path / "Q3 Report.pdf"
    _write_pdf(pdf, "Revenue grew twelve percent.")
    replies = {"contacts_names": CONTACTS, "contact_phone": "+14155550115", "contact_email": "sid.jha@example.edu",
               "calendars_list": "Home\nWork", "reminder_lists": "Reminders\nWork", "notes_list": NOTES,
               "note_open": "Milk, eggs", "mail_reply": "sarah.kim@example.com", "mdfind": str(pdf)}
    monkeypatch.setenv("PIPPIN_STANDIN_REPLIES", json.dumps(replies))
    m = AppleScriptMac(osascript=str(STANDINS / "osascript"), mdfind=str(STANDINS / "mdfind"), home=str(tmp_path))
    m.log = log
    m.pdf = str(pdf)
    m.replies = replies
    return m


def _write_pdf(path: Path, text: str) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    page = w.add_blank_page(300, 200)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): w._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 20 100 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = w._add_object(stream)
    with open(path, "wb") as f:
        w.write(f)


def runs(mac) -> list[list[str]]:
    if not mac.log.exists():
        return []
    out = []
    for line in mac.log.read_text().splitlines():
        argv = json.loads(line)
        if argv[0] == "osascript":
            argv = ["osascript", Path(argv[1]).name, *argv[2:]]
        out.append(argv)
    return out


def S(name: str) -> str:
    return f"{name}.applescript"


def test_every_script_takes_values_only_through_argv() -> None:
    scripts = sorted(SCRIPT_DIR.glob("*.applescript"))
    assert len(scripts) >= 15
    for s in scripts:
        text = s.read_text()
        assert "on run argv" in text, s.name
        assert not re.search(r"do shell script|run script|load script", text), s.name


def test_contacts(mac) -> None:
    assert mac.call("get_phone_number", ("sid",)) == "+14155550115"
    assert mac.call("get_email_address", ("Sid Jha",)) == "sid.jha@example.edu"
    assert runs(mac) == [["osascript", S("contacts_names")], ["osascript", S("contact_phone"), "Sid Jha"],
                         ["osascript", S("contacts_names")], ["osascript", S("contact_email"), "Sid Jha"]]
    with pytest.raises(ToolError, match="2 contacts match 'Sarah'"):
        mac.call("get_phone_number", ("Sarah",))


def test_no_phone_on_file(mac, monkeypatch) -> None:
    monkeypatch.setenv("PIPPIN_STANDIN_REPLIES", json.dumps({**mac.replies, "contact_phone": ""}))
    with pytest.raises(ToolError, match="Sid Jha has no phone number on file"):
        mac.call("get_phone_number", ("Sid",))


def test_files_and_pdf(mac) -> None:
    assert mac.call("open_and_get_file_path", ("the q3 report",)) == mac.pdf
    home = str(Path(mac.pdf).parent)
    assert runs(mac) == [["mdfind", "-onlyin", home, "-name", "q3"], ["mdfind", "-onlyin", home, "-name", "report"],
                         ["osascript", S("finder_open"), mac.pdf]]
    assert mac.call("summarize_pdf", (mac.pdf,)) == "Revenue grew twelve percent."
    with pytest.raises(ToolError, match="no file at"):
        mac.call("summarize_pdf", ("/nope.pdf",))


def test_calendar_event(mac) -> None:
    mac.call("create_calendar_event", ("Lunch", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "Nopa",
                                       ["a@b.co"], "", "work"), deliver=True)
    assert runs(mac)[-1] == ["osascript", S("calendar_event"), "Lunch", "Nopa", "", "Work", "1",
                             "2026", "11", "27", "12", "30", "0", "2026", "11", "27", "13", "30", "0", "1", "a@b.co"]
    mac.call("create_calendar_event", ("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", ["a@b.co"], "", ""))
    assert runs(mac)[-1][3:8] == ["", "", "Home", "0", "2026"]  # default calendar; draft: no invitations sent


def test_mail(mac) -> None:
    mac.call("compose_new_email", (["a@b.co"], ["c@d.co"], "Q3", "Attached.", [mac.pdf]))
    assert runs(mac)[-1] == ["osascript", S("mail_compose"), "Q3", "Attached.", "0", "1", "a@b.co", "1", "c@d.co",
                             "1", mac.pdf]
    assert "Reply to sarah.kim@example.com drafted" in mac.call("reply_to_email", ([], "Works for me.", []))
    assert runs(mac)[-1] == ["osascript", S("mail_reply"), "Works for me.", "0", "0", "0"]
    mac.call("forward_email", (["a@b.co", "e@f.co"], [], "", []), deliver=True)
    assert runs(mac)[-1] == ["osascript", S("mail_forward"), "", "1", "2", "a@b.co", "e@f.co", "0", "0"]
    with pytest.raises(ToolError, match="no file at '/missing.pdf'"):
        mac.call("compose_new_email", (["a@b.co"], [], "s", "b", ["/missing.pdf"]))


def test_maps(mac) -> None:
    mac.call("maps_open_location", ("Caffè Reggio, NYC",))
    mac.call("maps_show_directions", ("", "Oracle Park", "r"))
    assert runs(mac) == [["osascript", S("open_url"), "https://maps.apple.com/?q=Caff%C3%A8+Reggio%2C+NYC"],
                         ["osascript", S("open_url"), "https://maps.apple.com/?daddr=Oracle+Park&dirflg=r"]]


def test_notes(mac) -> None:
    assert mac.call("open_note", ("groceries", "")) == "Milk, eggs"
    mac.call("append_note_content", ("standup notes", "Blocked on keys", "work"))
    mac.call("create_note", ("Ideas", "Tram 28", "travel"))
    assert runs(mac) == [["osascript", S("notes_list")], ["osascript", S("note_open"), "Notes", "Groceries"],
                         ["osascript", S("notes_list")],
                         ["osascript", S("note_append"), "Work", "Standup Notes", "Blocked on keys"],
                         ["osascript", S("notes_list")], ["osascript", S("note_create"), "Travel", "Ideas", "Tram 28"]]


def test_reminders(mac) -> None:
    mac.call("create_reminder", ("Pay rent", "2026-12-01 00:00:00", "", "work", 1, True))
    mac.call("create_reminder", ("Oat milk", "", "", "", 0, False))
    assert runs(mac)[1] == ["osascript", S("reminder_create"), "Pay rent", "", "Work", "1", "1", "1",
                            "2026", "12", "1", "0", "0", "0"]
    assert runs(mac)[3] == ["osascript", S("reminder_create"), "Oat milk", "", "Reminders", "0", "0", "0",
                            "0", "0", "0", "0", "0", "0"]


def test_sms_draft_and_send(mac) -> None:
    mac.call("send_sms", (["+14155550115", "+14155550114"], "Running 5 min late & sorry"))
    assert runs(mac)[-1] == ["osascript", S("open_url"),
                             "sms://open?addresses=+14155550115,+14155550114&body=Running%205%20min%20late%20%26%20sorry"]
    mac.call("send_sms", (["+14155550115"], "hi"), deliver=True)
    assert runs(mac)[-1] == ["osascript", S("messages_send"), "hi", "1", "+14155550115"]


def test_zoom_without_a_token_says_so(mac) -> None:
    with pytest.raises(ToolError, match="Zoom is not set up"):
        mac.call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 30, []))


def test_script_failure_and_missing_osascript(mac, monkeypatch) -> None:
    monkeypatch.setenv("PIPPIN_STANDIN_REPLIES", json.dumps({"contacts_names": {"error": "Contacts got an error"}}))
    with pytest.raises(ToolError, match="Contacts got an error"):
        mac.call("get_phone_number", ("Sid",))
    with pytest.raises(ToolError, match="needs macOS"):
        AppleScriptMac(osascript="/nonexistent/osascript").call("maps_open_location", ("SFO",))


HOSTILE = [
    '" & do shell script "touch /tmp/pwned" & "',
    'back\\slash \\" quote',
    "new\nline\rreturn",
    "unicodé ✓ 日本語 \u202e",
    "'; end run\non run argv\n--",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_values_reach_every_tool_as_plain_argv(mac, monkeypatch, hostile) -> None:
    """Each tool gets the hostile value where it takes user text; the value must arrive
    as one whole argv entry, and the script run is always one of our own files."""
    replies = {**mac.replies, "contacts_names": CONTACTS + "\n" + hostile.replace("\n", " ").replace("\r", " "),
               "notes_list": NOTES + "\nWork\t" + hostile.replace("\n", " ").replace("\r", " ")}
    monkeypatch.setenv("PIPPIN_STANDIN_REPLIES", json.dumps(replies))
    h1 = hostile.replace("\n", " ").replace("\r", " ")
    calls = {
        "get_phone_number": (h1,), "get_email_address": (h1,),
        "create_calendar_event": (hostile, "2026-11-27 12:30:00", "2026-11-27 13:30:00", hostile, [], hostile, ""),
        "open_and_get_file_path": (mac.pdf,),
        "summarize_pdf": (mac.pdf,),
        "compose_new_email": (["a@b.co"], [], hostile, hostile, []),
        "reply_to_email": ([], hostile, []),
        "forward_email": (["a@b.co"], [], hostile, []),
        "maps_open_location": (hostile,),
        "maps_show_directions": (hostile, hostile, "w"),
        "create_note": (hostile, hostile, ""),
        "open_note": (h1, "Work"),
        "append_note_content": (h1, hostile, "Work"),
        "create_reminder": (hostile, "", hostile, "", 0, False),
        "send_sms": (["+14155550115"], hostile),
    }
    assert set(calls) | {"get_zoom_meeting_link"} == set(catalog.TOOL_NAMES)
    for tool, args in calls.items():
        before = len(runs(mac))
        mac.call(tool, args)
        new = runs(mac)[before:]
        assert new or tool == "summarize_pdf", tool  # the PDF is read in Python, with pypdf
        for argv in new:
            if argv[0] == "osascript":
                assert (SCRIPT_DIR / argv[1]).exists(), (tool, argv)  # our own script file, untouched
        flat = [a for argv in new for a in argv[2:]]
        if tool in ("maps_open_location", "maps_show_directions", "send_sms"):
            # Values travel URL-encoded inside one argv entry: no quote or newline survives raw.
            assert all('"' not in a and "\n" not in a for a in flat), (tool, flat)
        elif tool not in ("open_and_get_file_path", "summarize_pdf"):
            assert hostile in flat or h1 in flat, (tool, flat)
    with pytest.raises(ToolError, match="Zoom is not set up"):
        mac.call("get_zoom_meeting_link", (hostile, "2026-11-24 10:00:00", 30, []))
    assert not os.path.exists("/tmp/pwned")
