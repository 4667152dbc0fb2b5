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
NOTES = "Notes\tGroceries\nWork\tStandup Notes\nTravel\tPacking List\nRecently Deleted\tOld Plans\nEmpty\t"


@pytest.fixture
def mac(tmp_path, monkeypatch):
    log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("PIPPIN_STANDIN_LOG", str(log))
    pdf = tmp_path / "Q3 Report.pdf"
    _write_pdf(pdf, "Revenue grew twelve percent.")
    replies = {"contacts_names": CONTACTS, "contact_phone": "A2:ABPerson\t_$!<Mobile>!$_\t+14155550115",
               "contact_email": "A2:ABPerson\t_$!<Home>!$_\tsid.jha@example.edu",
               "calendars_list": "Home\nWork", "reminder_lists": "Reminders\nWork", "notes_list": NOTES,
               "note_open": "Milk, eggs", "mail_reply": "sarah.kim@example.com\tok",
               "messages_send": "+14155550115\tSMS", "mdfind": str(pdf)}
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
                         ["osascript", S("finder_open"), mac.pdf, "open"]]
    assert mac.call("summarize_pdf", (mac.pdf,)) == "Revenue grew twelve percent."
    with pytest.raises(ToolError, match="no file at"):
        mac.call("summarize_pdf", ("/nope.pdf",))


def test_calendar_event(mac) -> None:
    mac.call("create_calendar_event", ("Lunch", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "Nopa",
                                       ["a@b.co"], "", "work"), deliver=True)
    assert runs(mac)[-1] == ["osascript", S("calendar_event"), "Lunch", "Nopa", "", "Work",
                             "2026", "11", "27", "12", "30", "0", "2026", "11", "27", "13", "30", "0", "1", "a@b.co"]
    mac.call("create_calendar_event", ("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", [], "", ""))
    assert runs(mac)[-1][3:7] == ["", "", "Home", "2026"]  # the first writable calendar


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
    assert mac.call("maps_open_location", ("Caffè Reggio, NYC",)) == "https://maps.apple.com/?q=Caff%C3%A8+Reggio%2C+NYC"
    mac.call("maps_show_directions", ("", "Oracle Park", "r"))
    assert runs(mac) == [["osascript", S("open_url"), "maps://?q=Caff%C3%A8+Reggio%2C+NYC"],
                         ["osascript", S("open_url"), "maps://?daddr=Oracle+Park&dirflg=r"]]


def test_notes(mac) -> None:
    assert mac.call("open_note", ("groceries", "")) == "Milk, eggs"
    mac.call("append_note_content", ("standup notes", "Blocked on keys", "work"))
    mac.call("create_note", ("Ideas", "Tram 28", "travel"))
    assert runs(mac) == [["osascript", S("notes_list")], ["osascript", S("note_open"), "Notes", "Groceries"],
                         ["osascript", S("notes_list")],
                         ["osascript", S("note_append"), "Work", "Standup Notes", "<div>Blocked on keys</div>"],
                         ["osascript", S("notes_list")],
                         ["osascript", S("note_create"), "Travel", "Ideas", "<div><h1>Ideas</h1></div><div>Tram 28</div>"]]


def test_reminders(mac) -> None:
    mac.call("create_reminder", ("Pay rent", "2026-12-01 00:00:00", "", "work", 1, True))
    mac.call("create_reminder", ("Oat milk", "", "", "", 0, False))
    assert runs(mac)[1] == ["osascript", S("reminder_create"), "Pay rent", "", "Work", "1", "1", "1",
                            "2026", "12", "1", "0", "0", "0"]
    assert runs(mac)[3] == ["osascript", S("reminder_create"), "Oat milk", "", "Reminders", "0", "0", "0",
                            "0", "0", "0", "0", "0", "0"]


def test_sms_draft_and_send(mac) -> None:
    mac.call("send_sms", (["+14155550115", "+14155550114"], "Running 5 min late & sorry"))
    assert runs(mac)[-1] == ["osascript", S("messages_draft"),
                             "sms://open?addresses=+14155550115,+14155550114&body=Running%205%20min%20late%20%26%20sorry",
                             "Running 5 min late & sorry"]  # the text also goes on the clipboard
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
        if tool in ("maps_open_location", "maps_show_directions"):
            # Values travel URL-encoded inside one argv entry: no quote or newline survives raw.
            assert all('"' not in a and "\n" not in a for a in flat), (tool, flat)
        elif tool not in ("open_and_get_file_path", "summarize_pdf"):
            assert hostile in flat or h1 in flat, (tool, flat)
    with pytest.raises(ToolError, match="Zoom is not set up"):
        mac.call("get_zoom_meeting_link", (hostile, "2026-11-24 10:00:00", 30, []))
    assert not os.path.exists("/tmp/pwned")


# ---- phone numbers as people store them: a test world of its own (tests/data/mac_contacts.json) ----

@pytest.fixture
def people_mac(mac, monkeypatch):
    monkeypatch.setenv("PIPPIN_STANDIN_CONTACTS", str(Path(__file__).parent / "data" / "mac_contacts.json"))
    return mac


def test_a_mobile_number_stored_with_brackets_and_no_break_spaces_is_texted_in_e164(people_mac) -> None:
    number = people_mac.call("get_phone_number", ("Maya",))
    assert number == "+14155550115"  # the mobile, not the home line nor the fax
    assert "+14155550115" in people_mac.call("send_sms", ([number], "on my way"))


def test_a_number_wrapped_in_direction_marks_is_read(people_mac) -> None:
    assert people_mac.call("get_phone_number", ("Sid Jha",)) == "+14155550177"


def test_a_custom_label_comes_before_work_and_foreign_numbers_keep_their_country(people_mac) -> None:
    assert people_mac.call("get_phone_number", ("Ana Lima",)) == "+442079460958"


def test_only_a_fax_and_a_pager_is_a_clear_error(people_mac) -> None:
    with pytest.raises(ToolError, match="Kurt Becker has no phone number that can take a text.*fax.*pager"):
        people_mac.call("get_phone_number", ("Kurt Becker",))


def test_no_phone_at_all_is_a_clear_error(people_mac) -> None:
    with pytest.raises(ToolError, match="Tom Reed has no phone number on file"):
        people_mac.call("get_phone_number", ("Tom Reed",))


def test_two_people_of_one_name_are_not_guessed_between(people_mac) -> None:
    with pytest.raises(ToolError, match=r"2 contacts are named Sarah Kim \(phone number: \+1 415 555 0120; "
                                        r"415-555-0133\).*will not guess"):
        people_mac.call("get_phone_number", ("Sarah Kim",))
    with pytest.raises(ToolError, match="2 contacts are named Sarah Kim.*no email address"):
        people_mac.call("get_email_address", ("Sarah Kim",))


def test_the_first_email_address_of_the_one_person_is_taken(people_mac) -> None:
    assert people_mac.call("get_email_address", ("Sid",)) == "sid.jha@example.edu"


@pytest.mark.parametrize("typed,sent", [
    ("(415) 555-0115", "+14155550115"),
    ("415.555.0115", "+14155550115"),
    ("\u202d+1\u00a0415\u00a0555\u00a00115\u202c", "+14155550115"),
    ("+44 20 7946 0958", "+442079460958"),
    ("555-0115", "555-0115"),  # a local number libphonenumber cannot place stays as typed
    ("22395", "22395"),  # a short code
    ("sid@icloud.com", "sid@icloud.com"),  # an iMessage address
])
def test_recipients_in_the_formats_people_type(typed: str, sent: str) -> None:
    from services.executor.common import check_sms_recipients

    assert check_sms_recipients([typed]) == [sent]


def test_a_recipient_that_is_no_number_says_what_to_do() -> None:
    from services.executor.common import check_sms_recipients

    with pytest.raises(ToolError, match="look names up with get_phone_number first.*'Sid'"):
        check_sms_recipients(["Sid"])


def test_numbers_without_a_country_code_are_read_in_the_configured_region(mac) -> None:
    from services.executor.common import normalize_phone

    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("(415) 555-0115", "US") == "+14155550115"


# ---- Zoom: a fake Zoom (it cannot be reached from here) and a fake clock ----

class FakeZoom:
    """Zoom's token and meetings endpoints as a recording fake."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes | None]] = []
        self.reject_next_meeting = False

    def __call__(self, url: str, headers: dict[str, str], body: bytes | None, timeout_s: float) -> dict:
        import urllib.error

        self.posts.append((url, headers, body))
        if url.startswith("https://zoom.us/oauth/token"):
            return {"access_token": f"tok{sum(u.startswith('https://zoom.us') for u, _, _ in self.posts)}",
                    "expires_in": 3600}
        if self.reject_next_meeting:
            self.reject_next_meeting = False
            raise urllib.error.HTTPError(url, 401, "Unauthorized", {}, None)  # type: ignore[arg-type]
        return {"join_url": "https://zoom.us/j/123"}


def zoom_mac(fake: FakeZoom, now: list[float]):
    from services.executor.zoom import ZoomClient, ZoomSettings

    client = ZoomClient(ZoomSettings("acct", "cid", "secret"), post=fake, clock=lambda: now[0])
    return AppleScriptMac(osascript="/nonexistent", zoom=client)


def test_zoom_fetches_a_token_once_an_hour_and_sends_utc_start_times(monkeypatch) -> None:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    import time as time_mod

    time_mod.tzset()
    fake, now = FakeZoom(), [1000.0]
    mac = zoom_mac(fake, now)
    try:
        assert mac.call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 45, ["a@example.com"])) \
            == "https://zoom.us/j/123"
        token_url, token_headers, _ = fake.posts[0]
        assert "grant_type=account_credentials" in token_url and "account_id=acct" in token_url
        assert token_headers["Authorization"] == "Basic " + __import__("base64").b64encode(b"cid:secret").decode()
        meeting = json.loads(fake.posts[1][2])
        assert meeting["start_time"] == "2026-11-24T18:00:00Z" and meeting["duration"] == 45  # 10:00 PST
        assert fake.posts[1][1]["Authorization"] == "Bearer tok1"
        now[0] += 3000  # within the hour: the same token
        mac.call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 30, []))
        assert mac.zoom.fetches == 1
        now[0] += 600  # 3,600 s after the first fetch, less the minute of margin: a new token
        mac.call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 30, []))
        assert mac.zoom.fetches == 2 and fake.posts[-1][1]["Authorization"] == "Bearer tok2"
    finally:
        monkeypatch.delenv("TZ")
        time_mod.tzset()


def test_zoom_answering_401_gets_one_new_token_and_one_more_try() -> None:
    fake, now = FakeZoom(), [0.0]
    mac = zoom_mac(fake, now)
    mac.call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 30, []))
    fake.reject_next_meeting = True
    assert mac.call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 30, [])) == "https://zoom.us/j/123"
    assert mac.zoom.fetches == 2


def test_zoom_not_set_up_names_the_keys_that_are_read() -> None:
    from services.executor.zoom import ZoomSettings

    with pytest.raises(ToolError, match=r"under \[executor\], set zoom_account_id, zoom_client_id"):
        AppleScriptMac(osascript="/nonexistent").call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 30, []))
    settings = ZoomSettings.from_config({"zoom_account_id": "a", "zoom_client_id": "b", "zoom_client_secret": "c"})
    assert settings.configured and not ZoomSettings.from_config({"zoom_account_id": "a"}).configured


# ---- a first run on a real Mac (issue 20): what each app is known to do, made safe ----

def _reply(mac, monkeypatch, **replies: str) -> None:
    mac.replies = {**mac.replies, **replies}
    monkeypatch.setenv("PIPPIN_STANDIN_REPLIES", json.dumps(mac.replies))


def test_a_note_body_is_html_that_keeps_text_as_text_and_its_line_breaks() -> None:
    from services.executor.applescript import note_html

    assert note_html("a < b & c\n\n<b>not bold</b>") == (
        "<div>a &lt; b &amp; c</div><div><br></div><div>&lt;b&gt;not bold&lt;/b&gt;</div>")


def test_notes_leave_out_recently_deleted_and_a_new_note_goes_to_the_default_folder_in_any_language(
        mac, monkeypatch) -> None:
    with pytest.raises(ToolError, match="note"):
        mac.call("open_note", ("Old Plans", ""))  # only in Recently Deleted
    _reply(mac, monkeypatch, notes_list="Notizen\tEinkauf\nWork\tStandup Notes\nLeer\t")
    assert mac.call("create_note", ("Ideas", "", "")) == "Created note 'Ideas' in Notizen."
    assert mac.call("create_note", ("Ideas", "", "leer")) == "Created note 'Ideas' in Leer."  # a folder with no notes


def test_adding_to_a_note_that_holds_attachments_changes_nothing_and_says_so(mac, monkeypatch) -> None:
    _reply(mac, monkeypatch, note_append="has attachments")
    with pytest.raises(ToolError, match="'Standup Notes' holds attachments.*nothing was changed"):
        mac.call("append_note_content", ("standup notes", "Blocked on keys", "work"))


def test_a_reply_whose_text_mail_dropped_is_not_sent_and_the_text_waits_on_the_clipboard(mac, monkeypatch) -> None:
    _reply(mac, monkeypatch, mail_reply="sarah.kim@example.com\ttext-lost", mail_forward="text-lost")
    with pytest.raises(ToolError, match="left the text out of the reply to sarah.kim@example.com, so nothing was sent"
                                        ".*clipboard"):
        mac.call("reply_to_email", ([], "Works for me.", []), deliver=True)
    with pytest.raises(ToolError, match="left your note out of the forward.*nothing was sent"):
        mac.call("forward_email", (["a@b.co"], [], "FYI", []), deliver=True)
    reply = (SCRIPT_DIR / "mail_reply.applescript").read_text()
    # The text is read back before the send, and the send happens only when it is there.
    assert reply.index("does not contain (paragraph 1 of theBody)") < reply.index("send msg")
    assert "set the clipboard to theBody" in reply


def test_mail_sends_only_after_every_attachment_is_attached_and_brings_drafts_to_the_front() -> None:
    for name in ("mail_compose", "mail_reply", "mail_forward"):
        script = (SCRIPT_DIR / f"{name}.applescript").read_text()
        assert "my waitForAttachments(msg, count of attList)\n\t\t\tsend msg" in script, name
        assert "count of mail attachments of msg" in script, name
        assert "activate" in script, name


def test_a_draft_event_invites_no_one_and_keeps_the_addresses_in_its_notes(mac) -> None:
    said = mac.call("create_calendar_event", ("Sync", "2026-11-27 12:30:00", "2026-11-27 13:00:00", "", ["a@b.co"],
                                              "Agenda", ""))
    assert runs(mac)[-1][2:6] == ["Sync", "", "Agenda\nInvite: a@b.co", "Home"]
    assert runs(mac)[-1][-1] == "0"  # no attendee added
    assert "not invited yet" in said and "a@b.co" in said
    assert "show ev" not in (SCRIPT_DIR / "calendar_event.applescript").read_text()


def test_the_default_calendar_comes_from_the_config_and_a_missing_one_is_named(mac) -> None:
    mac.default_calendar = "Work"
    mac.call("create_calendar_event", ("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", [], "", ""))
    assert runs(mac)[-1][5] == "Work"
    mac.default_calendar = "Family"
    with pytest.raises(ToolError, match="the default calendar 'Family' \\(pippin.toml\\) is not on this Mac.*Home, Work"):
        mac.call("create_calendar_event", ("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", [], "", ""))


def test_a_timed_reminder_sets_its_alert_and_an_all_day_one_its_day() -> None:
    script = (SCRIPT_DIR / "reminder_create.applescript").read_text()
    timed = script[script.index("else\n\t\t\t\tset due date"):]
    assert "set remind me date of r to d" in timed
    assert "set allday due date of r to d" in script


def test_a_text_sent_over_imessage_to_a_number_says_it_may_not_arrive_and_how_to_send_sms(mac, monkeypatch) -> None:
    assert mac.call("send_sms", (["+14155550115"], "hi"), deliver=True) == "Message to +14155550115 sent."
    _reply(mac, monkeypatch, messages_send="+14155550115\tiMessage\nsid@icloud.com\tiMessage")
    said = mac.call("send_sms", (["+14155550115", "sid@icloud.com"], "hi"), deliver=True)
    assert "if +14155550115 has no iMessage, Messages will show Not Delivered" in said
    assert "Text Message Forwarding" in said and "sid@icloud.com has" not in said


def test_spotlight_copies_under_library_and_in_hidden_folders_are_not_candidates(mac, monkeypatch) -> None:
    home = Path(mac.pdf).parent
    copies = [home / "Library" / "Caches" / "Q3 Report.pdf", home / ".Trash" / "Q3 Report 2.pdf"]
    _reply(mac, monkeypatch, mdfind="\n".join(map(str, [*copies, mac.pdf])))
    assert mac.call("open_and_get_file_path", ("q3 report",)) == mac.pdf
    _reply(mac, monkeypatch, mdfind="\n".join(map(str, copies)))
    with pytest.raises(ToolError):
        mac.call("open_and_get_file_path", ("q3 report",))


def test_a_file_that_would_run_when_opened_is_only_shown_in_finder(mac, monkeypatch) -> None:
    script = Path(mac.pdf).parent / "deploy.command"
    script.write_text("#!/bin/sh\n")
    _reply(mac, monkeypatch, mdfind=str(script))
    assert mac.call("open_and_get_file_path", ("deploy",)) == str(script)
    assert runs(mac)[-1] == ["osascript", S("finder_open"), str(script), "reveal"]


def test_a_folder_pippin_may_not_look_into_says_where_to_allow_it(mac, monkeypatch) -> None:
    # A fake: macOS's Files and Folders refusal cannot be caused on Linux (and not as root).
    def refused(self: Path) -> bool:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "is_file", refused)
    with pytest.raises(ToolError, match="may not look into .*Files and Folders"):
        mac.call("summarize_pdf", ("/Users/me/Documents/Q3.pdf",))


def test_an_apps_first_call_waits_long_enough_for_the_consent_prompt_and_first_calls_come_one_at_a_time() -> None:
    import subprocess
    import threading
    import time

    from services.executor.applescript import FIRST_CALL_TIMEOUT_S, SCRIPT_APPS

    seen: list[tuple[str, float, float, float]] = []  # script, timeout, start, end

    def runner(argv, **kw):  # a recorded osascript: notes the timeout it was given and when it ran
        start = time.monotonic()
        time.sleep(0.05)
        seen.append((Path(argv[1]).stem, kw["timeout"], start, time.monotonic()))
        reply = {"calendars_list": "Home", "reminder_lists": "Reminders"}.get(Path(argv[1]).stem, "ok")
        return subprocess.CompletedProcess(argv, 0, reply + "\n", "")

    mac = AppleScriptMac(runner=runner, timeout_s=30)
    threads = [threading.Thread(target=mac.call, args=("create_reminder", (f"r{i}", "", "", "", 0, False)))
               for i in range(3)] + [threading.Thread(target=mac.call, args=(
                   "create_calendar_event", ("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", [], "", "")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8
    firsts = [r for r in seen if r[1] == FIRST_CALL_TIMEOUT_S]
    assert sorted(SCRIPT_APPS[r[0]] for r in firsts) == ["Calendar", "Reminders"]  # one long wait per app
    assert all(r[1] == 30 for r in seen if r not in firsts)
    (_, _, s1, e1), (_, _, s2, e2) = sorted(firsts, key=lambda r: r[2])
    assert e1 <= s2  # the two prompts never at once
    assert set(SCRIPT_APPS) | {"app_touch", "open_url", "messages_draft"} == {
        p.stem for p in SCRIPT_DIR.glob("*.applescript")}
