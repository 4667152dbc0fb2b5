"""Requests the demo sends, written for the demo (not taken from the eval cases), with
the plans a good planner should write for them in the default world."""

DEMO: list[tuple[str, str]] = [
    (
        "Text Priya and Ryan that the offsite moved to Friday, and remind me Thursday at 5 to book a room",
        '1. get_phone_number("Priya")\n2. get_phone_number("Ryan")\n'
        '3. send_sms(["$1", "$2"], "The offsite moved to Friday.")\n'
        '4. create_reminder("Book a room for the offsite", "2026-11-26 17:00:00", "", "", 0, False)\n5. join()',
    ),
    (
        "Send the lease agreement to Carlos and put a summary of it in a new note",
        '1. get_email_address("Carlos")\n2. open_and_get_file_path("lease agreement")\n'
        '3. compose_new_email(["$1"], [], "Lease agreement", "Here is the lease agreement.", ["$2"])\n'
        '4. summarize_pdf("$2")\n5. create_note("Lease summary", "$4", "")\n6. join()',
    ),
    (
        "Set up a Zoom call with Sid on Wednesday at 11 and put it on my Work calendar",
        '1. get_email_address("Sid")\n'
        '2. get_zoom_meeting_link("Call with Sid", "2026-11-25 11:00:00", 60, ["$1"])\n'
        '3. create_calendar_event("Call with Sid", "2026-11-25 11:00:00", "2026-11-25 12:00:00", "$2", [], "", "Work")'
        "\n4. join()",
    ),
    ("What's the capital of Peru?", "1. join()"),
]
