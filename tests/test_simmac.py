"""Every tool of the simulated Mac, with its errors."""

import json

import pytest

from services.executor.common import ToolError
from services.executor.simmac import SimulatedMac


def effects(mac: SimulatedMac) -> list[tuple[str, dict]]:
    return [(e.kind, e.structured) for e in mac.effects()]


@pytest.mark.parametrize("name,phone,email", [
    ("Sarah Kim", "+14155550111", "sarah.kim@example.com"),
    ("sarah kim", "+14155550111", "sarah.kim@example.com"),
    ("Zoe Martin", "+33612345678", "zoe.martin@example.fr"),       # accents
    ("zoe", "+33612345678", "zoe.martin@example.fr"),              # first name
    ("Eren Erdogan", "+905321234567", "eren.erdogan@example.com.tr"),
    ("Eren", "+905321234567", "eren.erdogan@example.com.tr"),      # first name beats middle name
    ("Lutfi", "+14155550113", "lutfi@example.com"),
    ("Nick", "+14155550116", "nick.lee@example.com"),              # short form
    ("Nicolas Lee", "+14155550116", "nick.lee@example.com"),       # misspelt
    ("dr weiss", "+14155550122", "hweiss@clinic.example.com"),     # title and last name
    ("Maya", "+14155550118", "maya@example.com"),                  # the first of several
    ("john o'connor", "+14155550120", "john.oconnor@example.ie"),
])
def test_contact_lookup(mac: SimulatedMac, name: str, phone: str, email: str) -> None:
    assert mac.call("get_phone_number", (name,)) == phone
    assert mac.call("get_email_address", (name,)) == email


@pytest.mark.parametrize("tool,name,message", [
    ("get_phone_number", "Sarah", "2 contacts match 'Sarah'"),
    ("get_phone_number", "Bob Dylan", "no contact named 'Bob Dylan'"),
    ("get_phone_number", "Tom Becker", "Tom Becker has no phone number on file"),
    ("get_email_address", "Linda Chen", "Linda Chen has no email address on file"),
])
def test_contact_errors(mac: SimulatedMac, tool: str, name: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        mac.call(tool, (name,))


@pytest.mark.parametrize("query,path", [
    ("Q3 report", "/Users/alex/Documents/Q3 Financial Report.pdf"),
    ("the q3 financial report", "/Users/alex/Documents/Q3 Financial Report.pdf"),
    ("boarding pass", "/Users/alex/Downloads/boarding_pass_SFO_JFK.pdf"),
    ("lease", "/Users/alex/Documents/Lease Agreement 2026.pdf"),
    ("resume", "/Users/alex/Documents/Resume - Alex Rivera.pdf"),
    ("team photo", "/Users/alex/Desktop/team-photo.jpg"),
    ("invoice 1042", "/Users/alex/Documents/Invoices/Invoice 1042.pdf"),
    ("wedding invitaton", "/Users/alex/Downloads/Wedding Invitation.pdf"),  # typo
])
def test_file_lookup(mac: SimulatedMac, query: str, path: str) -> None:
    assert mac.call("open_and_get_file_path", (query,)) == path
    assert effects(mac) == [("open_file", {"path": path})]


def test_file_errors(mac: SimulatedMac) -> None:
    with pytest.raises(ToolError, match="no file matching 'holiday photos'"):
        mac.call("open_and_get_file_path", ("holiday photos",))
    with pytest.raises(ToolError, match="no file at"):
        mac.call("summarize_pdf", ("/nope.pdf",))
    with pytest.raises(ToolError, match="is not a PDF"):
        mac.call("summarize_pdf", ("/Users/alex/Documents/Project Plan.docx",))


def test_summarize_pdf(mac: SimulatedMac) -> None:
    s = mac.call("summarize_pdf", ("/Users/alex/Documents/Q3 Financial Report.pdf",))
    assert s.startswith("Q3 revenue grew 12 percent") and len(s) <= 280


def test_calendar_event(mac: SimulatedMac) -> None:
    out = mac.call("create_calendar_event", ("Lunch", "2026-11-27 12:30:00", "2026-11-27 13:30:00",
                                             "Chez Panisse", ["keutzer@example.edu"], "", "family"))
    assert "Family" in out and "not sent" in out
    assert effects(mac) == [("event", {"start": "2026-11-27 12:30:00", "end": "2026-11-27 13:30:00",
                                       "invitees": ["keutzer@example.edu"], "calendar": "Family"})]
    mac.call("create_calendar_event", ("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", [], "", ""))
    assert mac.effects()[-1].structured["calendar"] == "Home"  # the default calendar
    row = mac.query("SELECT * FROM events WHERE title = 'Lunch'")[0]
    assert json.loads(row["invitees"]) == ["keutzer@example.edu"] and row["invites_sent"] == 0


@pytest.mark.parametrize("args,message", [
    (("X", "2026-11-27 12:30:00", "2026-11-27 11:30:00", "", [], "", ""), "ends .* before it starts"),
    (("X", "friday", "2026-11-27 11:30:00", "", [], "", ""), "start_date must be"),
    (("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", ["Kurt"], "", ""), "must be email addresses"),
    (("X", "2026-11-27 12:30:00", "2026-11-27 13:30:00", "", [], "", "Gym"), "no calendar named 'Gym'"),
])
def test_calendar_errors(mac: SimulatedMac, args: tuple, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        mac.call("create_calendar_event", args)
    assert mac.effects() == []


def test_compose_email_drafts_unless_delivered(mac: SimulatedMac) -> None:
    q3 = "/Users/alex/Documents/Q3 Financial Report.pdf"
    out = mac.call("compose_new_email", (["Sarah.Kim@example.com"], ["amir@example.edu"], "Q3", "hi", [q3]))
    assert "drafted" in out
    mac.call("compose_new_email", (["sarah.kim@example.com"], [], "Q3", "hi", []), deliver=True)
    rows = mac.query("SELECT status FROM outbox ORDER BY id")
    assert [r["status"] for r in rows] == ["draft", "sent"]
    assert effects(mac)[0] == ("email", {"to": ["sarah.kim@example.com"], "cc": ["amir@example.edu"],
                                         "attachments": [q3]})


def test_email_errors(mac: SimulatedMac) -> None:
    with pytest.raises(ToolError, match="must be email addresses"):
        mac.call("compose_new_email", (["Sarah Kim"], [], "s", "b", []))
    with pytest.raises(ToolError, match="at least one recipient"):
        mac.call("compose_new_email", ([], [], "s", "b", []))
    with pytest.raises(ToolError, match="no file at '/tmp/x.pdf'"):
        mac.call("compose_new_email", (["a@b.co"], [], "s", "b", ["/tmp/x.pdf"]))
    assert mac.effects() == []


def test_reply_and_forward_act_on_the_selected_email(mac: SimulatedMac) -> None:
    mac.call("reply_to_email", (["priya.n@example.com"], "Thursday works.", []))
    mac.call("forward_email", (["tom.becker@example.de"], [], "", []))
    assert effects(mac) == [
        ("reply", {"to": ["sarah.kim@example.com"], "cc": ["priya.n@example.com"], "attachments": []}),
        ("forward", {"to": ["tom.becker@example.de"], "cc": [], "attachments": []}),
    ]
    subjects = [r["subject"] for r in mac.query("SELECT subject FROM outbox ORDER BY id")]
    assert subjects == ["Re: Budget review on Thursday", "Fwd: Budget review on Thursday"]


def test_no_selected_email(world: dict) -> None:
    w = dict(world, mail={})
    mac = SimulatedMac(":memory:", w)
    with pytest.raises(ToolError, match="no email is selected"):
        mac.call("reply_to_email", ([], "x", []))


def test_maps(mac: SimulatedMac) -> None:
    assert mac.call("maps_open_location", ("Chase Center",)) == "https://maps.apple.com/?q=Chase+Center"
    url = mac.call("maps_show_directions", ("", "Trader Joe's & Co", "w"))
    assert url == "https://maps.apple.com/?daddr=Trader+Joe%27s+%26+Co&dirflg=w"
    assert effects(mac)[1] == ("directions", {"from": "", "to": "trader joes co", "transport": "w"})
    with pytest.raises(ToolError, match="no destination"):
        mac.call("maps_show_directions", ("", " ", "d"))


def test_notes(mac: SimulatedMac) -> None:
    assert mac.call("open_note", ("packing list", "")) == "Passport, charger, adapter"
    mac.call("append_note_content", ("Groceries", "Eggs", ""))
    assert mac.query("SELECT body FROM notes WHERE name='Groceries'")[0]["body"].endswith("\nEggs")
    mac.call("create_note", ("Lisbon Ideas", "Tram 28", "travel"))
    mac.call("create_note", ("Ideas", "x", "Recipes"))  # a new folder is made, as Notes does
    assert effects(mac) == [
        ("note_open", {"name": "Packing List", "folder": "Travel"}),
        ("note_append", {"name": "Groceries", "folder": "Notes"}),
        ("note_create", {"name": "lisbon ideas", "folder": "Travel"}),
        ("note_create", {"name": "ideas", "folder": "Recipes"}),
    ]
    assert mac.call("open_note", ("Launch Checklist", "Work")).startswith("1. Freeze")


def test_note_errors(mac: SimulatedMac) -> None:
    with pytest.raises(ToolError, match="no note named 'Recipes'"):
        mac.call("append_note_content", ("Recipes", "x", ""))
    with pytest.raises(ToolError, match="no note named 'Groceries' .* in folder Work"):
        mac.call("open_note", ("Groceries", "Work"))
    with pytest.raises(ToolError, match="no folder named 'Gym'"):
        mac.call("open_note", ("Groceries", "Gym"))


def test_reminders(mac: SimulatedMac) -> None:
    mac.call("create_reminder", ("Pay rent", "2026-12-01 00:00:00", "", "work", 1, True))
    mac.call("create_reminder", ("Oat milk", "", "", "", 0, False))
    assert effects(mac) == [
        ("reminder", {"due": "2026-12-01 00:00:00", "all_day": True, "list": "Work", "priority": 1}),
        ("reminder", {"due": "", "all_day": False, "list": "Reminders", "priority": 0}),
    ]
    for args, message in [
        (("x", "", "", "Errands", 0, False), "no reminder list named 'Errands'"),
        (("x", "2026-12-01 10:00:00", "", "", 0, True), "all-day reminder is due at midnight"),
        (("x", "", "", "", 3, False), "priority must be"),
    ]:
        with pytest.raises(ToolError, match=message):
            mac.call("create_reminder", args)


def test_sms(mac: SimulatedMac) -> None:
    assert "not sent" in mac.call("send_sms", (["+14155550115"], "hi"))
    assert "sent" in mac.call("send_sms", (["+14155550115", "maya@example.com"], "hi"), deliver=True)
    assert effects(mac)[1] == ("sms", {"to": ["+14155550115", "maya@example.com"]})
    with pytest.raises(ToolError, match="must be phone numbers"):
        mac.call("send_sms", (["Sid"], "hi"))
    with pytest.raises(ToolError, match="message is empty"):
        mac.call("send_sms", (["+14155550115"], " "))


def test_zoom_links_are_deterministic(world_path) -> None:
    links = []
    for _ in range(2):
        m = SimulatedMac(":memory:", world_path)
        links.append(m.call("get_zoom_meeting_link", ("Sync", "2026-11-24 10:00:00", 30, ["a@b.co"])))
        assert m.effects()[0].structured == {"start": "2026-11-24 10:00:00", "duration": 30,
                                              "invitees": ["a@b.co"]}
    assert links[0] == links[1] and links[0].startswith("https://zoom.us/j/")
    with pytest.raises(ToolError, match="duration must be a positive"):
        SimulatedMac(":memory:", world_path).call("get_zoom_meeting_link", ("x", "2026-11-24 10:00:00", 0, []))


def test_unknown_tool_and_bad_arity(mac: SimulatedMac) -> None:
    with pytest.raises(ToolError, match="unknown tool"):
        mac.call("delete_everything", ())
    with pytest.raises(ToolError, match="takes 1 arguments, got 2"):
        mac.call("get_phone_number", ("a", "b"))


def test_state_persists_in_a_file(tmp_path, world_path) -> None:
    db = tmp_path / "mac.sqlite"
    m = SimulatedMac(db, world_path)
    m.call("create_note", ("Persisted", "x", ""))
    m.close()
    again = SimulatedMac(db, world_path)  # not reseeded
    assert len(again.query("SELECT * FROM notes WHERE name='Persisted'")) == 1
    assert len(again.query("SELECT * FROM contacts")) == 20
