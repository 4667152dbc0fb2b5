"""In-context examples, written for Pippin (never copied from the eval cases).

They are asked at a fixed moment of their own (EXAMPLE_NOW, a Tuesday) with people,
files and notes that are not in the evaluation world, so a model learns the pattern,
not the names. tests/test_planner_prompt.py checks that every plan here is valid."""

from __future__ import annotations

from shared.cases import Example

EXAMPLES: tuple[Example, ...] = (
    Example(
        "text jordan and priyanka that the demo got pushed to 4",
        '1. get_phone_number("Jordan")\n2. get_phone_number("Priyanka")\n'
        '3. send_sms(["$1", "$2"], "The demo got pushed to 4.")\n4. join()',
    ),
    Example(
        "Could you email the budget spreadsheet to Lena Fischer and cc Omar?",
        '1. get_email_address("Lena Fischer")\n2. get_email_address("Omar")\n'
        '3. open_and_get_file_path("budget spreadsheet")\n'
        '4. compose_new_email(["$1"], ["$2"], "Budget spreadsheet", "Here is the budget spreadsheet.", ["$3"])'
        "\n5. join()",
    ),
    Example(
        "set up a zoom with Hana on thursday at 9:30 for 45 minutes, put it on my Work calendar and text her the link",
        '1. get_email_address("Hana")\n2. get_phone_number("Hana")\n'
        '3. get_zoom_meeting_link("Meeting with Hana", "2026-03-12 09:30:00", 45, ["$1"])\n'
        '4. create_calendar_event("Meeting with Hana", "2026-03-12 09:30:00", "2026-03-12 10:15:00", "$3", [], "", '
        '"Work")\n'
        '5. send_sms(["$2"], "Here is the Zoom link for Thursday at 9:30: $3")\n6. join()',
    ),
    Example(
        "remind me next monday to renew my passport, it's important",
        '1. create_reminder("Renew my passport", "2026-03-16 00:00:00", "", "", 1, True)\n2. join()',
    ),
    Example(
        "give me a summary of the insurance policy pdf and save it as a note called Insurance in my Home folder",
        '1. open_and_get_file_path("insurance policy")\n2. summarize_pdf("$1")\n'
        '3. create_note("Insurance", "$2", "Home")\n4. join()',
    ),
    Example(
        "add call the plumber to my Chores note and get me walking directions from the office to Dolores Park",
        '1. append_note_content("Chores", "Call the plumber", "")\n'
        '2. maps_show_directions("the office", "Dolores Park", "w")\n3. join()',
    ),
    Example(
        "reply that I'm in, and forward the email to Ben",
        '1. reply_to_email([], "I\'m in.", [])\n2. get_email_address("Ben")\n'
        '3. forward_email(["$2"], [], "", [])\n4. join()',
    ),
    Example("what was the score of the warriors game last night", "1. join()"),
    Example(
        "book lunch with Tariq and Mei at Nopa on the 14th at noon",
        '1. get_email_address("Tariq")\n2. get_email_address("Mei")\n'
        '3. create_calendar_event("Lunch with Tariq and Mei", "2026-03-14 12:00:00", "2026-03-14 13:00:00", '
        '"Nopa", ["$1", "$2"], "", "")\n4. join()',
    ),
    Example(
        "send Grace my Reading List note by text",
        '1. open_note("Reading List", "")\n2. get_phone_number("Grace")\n3. send_sms(["$2"], "$1")\n4. join()',
    ),
    Example(
        "put pick up the dry cleaning in my Errands list for tomorrow at 6pm",
        '1. create_reminder("Pick up the dry cleaning", "2026-03-11 18:00:00", "", "Errands", 0, False)\n2. join()',
    ),
    Example(
        "text +1 650 555 0134 that the gate code is 4821 and show me Coit Tower on the map",
        '1. send_sms(["+16505550134"], "The gate code is 4821.")\n2. maps_open_location("Coit Tower")\n3. join()',
    ),
)
