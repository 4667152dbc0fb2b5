"""The joiner: the answer the user hears, made from the results without a model.

It says what was done, what was left as a draft, what failed and why, and answers the
question when a lookup was the point of the request (a number, a summary, a note)."""

from __future__ import annotations

from services.scheduler.engine import CallReport, RequestResult

# Lookups whose result is the answer when nothing else used it.
_ANSWER_PHRASES = {
    "get_phone_number": "The number for {arg} is {value}.",
    "get_email_address": "The email address for {arg} is {value}.",
    "open_and_get_file_path": "Opened {value}.",
    "summarize_pdf": "Summary: {value}",
    "open_note": "{arg}: {value}",
    "maps_open_location": "Showing {arg} in Maps.",
    "maps_show_directions": "Showing directions to {arg2} in Maps.",
    "get_zoom_meeting_link": "Zoom meeting created: {value}",
}


def _describe(c: CallReport) -> str:
    if c.tool in _ANSWER_PHRASES and (not c.has_dependents or c.tool == "get_zoom_meeting_link"):
        arg = c.args[0] if c.args else ""
        arg2 = c.args[1] if len(c.args) > 1 else ""
        return _ANSWER_PHRASES[c.tool].format(arg=arg, arg2=arg2, value=c.value)
    return c.value or ""


def answer(result: RequestResult) -> str:
    if not result.calls and not result.plan_errors:
        return ("Sorry, that is something I can't do on this Mac: none of my tools (contacts, mail, messages, "
                "calendar, reminders, notes, maps, files, Zoom) covers it.")
    lines: list[str] = []
    for c in result.calls:
        if c.state == "done":
            # Lookups that fed another call are plumbing; say what they led to.
            if c.has_dependents and c.tool in ("get_phone_number", "get_email_address", "open_and_get_file_path"):
                continue
            text = _describe(c)
            if text:
                lines.append(text)
        elif c.state == "failed":
            lines.append(f"Could not {c.tool.replace('_', ' ')}: {c.error}")
        elif c.state == "skipped":
            lines.append(f"Did not {c.tool.replace('_', ' ')}, because {c.error}.")
    lines.extend(f"Plan problem: {e}" for e in result.plan_errors)
    if result.cancelled:
        lines.append("The request was cancelled.")
    return "\n".join(lines) if lines else "Done."
