"""Grounding: times from a date library plus our rules, names from the Mac, and a grammar that
allows only what was grounded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.planner.base import PlanRequest
from services.planner.grammar import plan_grammar
from services.planner.grounding import Grounding, Inventory, ground
from services.planner.grounding.times import find_times, notation, read_cases
from shared.plan import parse_plan
from shared.validate import validate_plan

DATA = Path(__file__).parent / "data"
NOW = "2026-11-23 09:30:00"  # a Monday
ZONE = "America/Los_Angeles"


@pytest.fixture(scope="module")
def inventory(world: dict) -> Inventory:
    return Inventory.from_world(world)


def times(text: str, now: str = NOW) -> str:
    return notation(find_times(text, dt.datetime.fromisoformat(now), ZONE))


def test_at_least_98_percent_of_our_time_expressions_resolve_exactly() -> None:
    cases = read_cases(DATA / "time_expressions.tsv")
    assert len(cases) >= 200
    misses = [(c.text, c.expected, got) for c in cases
              if (got := notation(find_times(c.text, c.now, ZONE))) != c.expected]
    assert len(misses) <= 0.02 * len(cases), misses


def test_the_file_covers_month_ends_a_year_end_and_both_daylight_saving_changes() -> None:
    nows = {c.now.date() for c in read_cases(DATA / "time_expressions.tsv")}
    assert {dt.date(2026, 1, 30), dt.date(2026, 12, 30), dt.date(2026, 3, 7), dt.date(2026, 10, 31)} <= nows


def test_a_weekday_alone_is_the_next_one_after_today() -> None:
    assert times("remind me monday to call") == "2026-11-30"  # said on a Monday: next week's
    assert times("remind me friday to call") == "2026-11-27"


def test_this_friday_is_this_weeks_and_next_friday_is_next_weeks() -> None:
    assert times("remind me this friday") == "2026-11-27"
    assert times("remind me next friday") == "2026-12-04"
    assert times("remind me this thursday", "2027-04-30 08:00:00") == "2027-05-06"  # passed: the next one


def test_by_the_end_of_a_month_or_week_is_its_last_day_or_friday() -> None:
    assert times("remind me to pay rent by the end of the month") == "2026-11-30"
    assert times("send the invoice by end of month") == "2026-11-30"
    assert times("finish the slides by the end of the week") == "2026-11-27"
    assert times("finish the slides by the end of next week") == "2026-12-04"
    assert times("remind me to pay rent by the end of the month", "2027-02-03 10:00:00") == "2027-02-28"


def test_a_clock_time_without_am_or_pm_follows_the_written_rule() -> None:
    assert times("remind me tomorrow at 9") == "2026-11-24 09:00"
    assert times("remind me tomorrow at 4") == "2026-11-24 16:00"
    assert times("dinner saturday at 7") == "2026-11-28 19:00"
    assert times("remind me at 9 to take out the trash") == "2026-11-23 21:00"  # 9 am has passed


def test_the_later_of_a_self_correction_wins() -> None:
    assert times("remind me friday no wait tomorrow at eight") == "2026-11-24 08:00"


def test_in_two_hours_counts_real_time_across_the_spring_change() -> None:
    assert times("remind me in four hours", "2026-03-07 22:00:00") == "2026-03-08 03:00"


def test_the_day_before_counts_from_the_day_already_named() -> None:
    assert times("flight on December 3rd at 7am and remind me the day before at 8pm") == \
        "2026-12-03 07:00 ; 2026-12-02 20:00"


def test_the_day_after_tomorrow_is_not_counted_from_a_day_already_named() -> None:
    assert times("remind me at 6pm the day after tomorrow and the day after tomorrow at nine") == \
        "2026-11-25 18:00 ; 2026-11-25 09:00"


def test_a_clock_time_in_another_request_does_not_join_a_day() -> None:
    # The 2:40 is in the text to Keiko; the reminder is all day on Aug 8.
    assert times("remind me to call the bank Aug 8. text Keiko my flight leaves at 2:40") == \
        "2027-08-08 ; 2026-11-23 14:40"
    assert times("remind me tomorrow to pick up the dry cleaning at 9") == "2026-11-24 09:00"


def test_durations_and_ranges_are_found() -> None:
    assert times("a 45 minute zoom on thursday at 2pm") == "2026-11-26 14:00 ; 45min"
    assert times("hold two to four tomorrow afternoon") == "2026-11-24 14:00-16:00"


def test_requests_without_times_find_none() -> None:
    for text in ("text sid that i'm running late", "email maya the q3 report", "a 1:1 with nick"):
        assert times(text) in ("-",), text


def test_calendars_lists_and_folders_come_from_the_mac_only_when_named(inventory: Inventory) -> None:
    g = ground("Set up a Zoom call with Sid on Wednesday at 11 and put it on my Work calendar", NOW, inventory)
    assert g.calendars == ("Work",) and g.offers().calendars == ("Work",)
    assert g.offers().reminder_lists == ("",) and g.offers().note_folders == ("",)
    two = ground("put the retro on my Work calendar friday at 4 and lunch saturday at noon", NOW, inventory)
    assert two.offers().calendars == ("Work", "")  # more events than calendars named
    g = ground("make a note called Espresso in my work folder saying try the new place", NOW, inventory)
    assert g.note_folders == ("Work",)
    assert ground("add oat milk to the groceries list", NOW, inventory).reminder_lists == ("Groceries",)
    # a list named is a reminder of its own: the other reminder may go on no list, at no priority
    two = ground("put bread on the Groceries list and remind me friday to call the bank, it's urgent", NOW, inventory)
    assert two.offers().reminder_lists == ("Groceries", "") and two.offers().priorities == (1, 0)


def test_unknown_names_stay_free_where_the_mac_cannot_say(inventory: Inventory) -> None:
    offers = ground("put it on my Work calendar", NOW, Inventory()).offers()
    assert offers.calendars is None and offers.reminder_lists is None


def test_people_are_matched_by_first_name_and_by_sound(inventory: Inventory) -> None:
    assert dict(ground("text Sid that I'm late", NOW, inventory).people) == {"sid": "Sid Jha"}
    assert dict(ground("text sit that i'm late", NOW, inventory).people) == {"sit": "Sid Jha"}
    assert dict(ground("email sarah kim the report", NOW, inventory).people) == {"sarah kim": "Sarah Kim"}
    assert ground("remind me to buy milk", NOW, inventory).people == ()
    assert dict(ground("What's Sid's phone number?", NOW, inventory).people) == {"sid": "Sid Jha"}


def test_a_name_taken_back_is_not_offered_the_later_one_is(inventory: Inventory) -> None:
    assert dict(ground("email ryan no sorry priya the notes", NOW, inventory).people) == {"priya": "Priya Natarajan"}
    assert dict(ground("text sid, uh, actually maya, that I'm late", NOW, inventory).people) == {"maya": "Maya Patel"}
    # Not a correction: both stay.
    both = ground("tell sid that maya is late, sorry", NOW, inventory).people
    assert dict(both) == {"sid": "Sid Jha", "maya": "Maya Patel"}


def test_a_title_is_not_a_first_name(inventory: Inventory) -> None:
    assert dict(ground("text dr weiss i'm late", NOW, inventory).people) == {"weiss": "Dr. Hannah Weiss"}
    assert dict(ground("text hannah i'm late", NOW, inventory).people) == {"hannah": "Dr. Hannah Weiss"}
    assert ground("remind me to get the dry cleaning", NOW, inventory).people == ()


def test_priority_in_words(inventory: Inventory) -> None:
    assert ground("remind me to pay rent, it's urgent", NOW, inventory).offers().priorities == (1,)
    assert ground("low priority reminder to sort the photos", NOW, inventory).offers().priorities == (9,)
    assert ground("remind me to pay rent", NOW, inventory).offers().priorities == (0,)
    both = ground("remind me to pay rent, it's urgent, and remind me to water the plants", NOW, inventory)
    assert both.offers().priorities == (1, 0)


def test_all_day_goes_only_with_a_days_midnight_and_ends_with_stated_lengths(inventory: Inventory) -> None:
    offers = ground("remind me friday to file and at 3 tomorrow to call, then a 30 minute sync monday at 10",
                    NOW, inventory).offers()
    assert offers.reminder_dues is not None
    for due, all_day in offers.reminder_dues:
        assert all_day == due.endswith("00:00:00") if due else not all_day
    assert offers.starts is not None  # two times, one length said: the other keeps the default hour
    assert offers.starts["2026-11-30 10:00:00"] == ("2026-11-30 10:30:00", "2026-11-30 11:00:00")
    one = ground("set up a 45 minute zoom with sid on thursday at 2pm", NOW, inventory).offers()
    assert one.durations == (45,) and one.starts == {"2026-11-26 14:00:00": ("2026-11-26 14:45:00",)}
    no_length = ground("meeting tomorrow at 2", NOW, inventory).offers()
    assert no_length.starts == {"2026-11-24 14:00:00": ("2026-11-24 15:00:00",)} and no_length.durations == (60,)


def test_the_prompt_block_says_what_was_found(inventory: Inventory) -> None:
    block = ground("remind me tomorrow at 9 to text sid, it's urgent", NOW, inventory).prompt_block()
    assert block.startswith("Found: ") and '"tomorrow at 9" = 2026-11-24 09:00:00' in block
    assert '"sid" = Sid Jha' in block and "priority 1" in block
    assert Grounding().prompt_block() == ""


def test_the_grounded_grammar_compiles_for_requests_with_and_without_times(inventory: Inventory) -> None:
    from llama_cpp import LlamaGrammar

    for text in ("remind me tomorrow at 9", "remind me to call mom", "zoom with sid for 45 minutes friday at 3",
                 "add milk to my Groceries list", "text sid hi"):
        LlamaGrammar.from_string(plan_grammar((), 6, ground(text, NOW, inventory).offers()), verbose=False)


@pytest.mark.llm
def test_a_model_under_the_grounded_grammar_writes_only_grounded_values(inventory: Inventory) -> None:
    """SmolLM2-135M knows nothing of Pippin: whatever it writes, the dates, all-day flags,
    lengths and calendars are ones grounding offered."""
    from services.planner.llm import LlmPlanner, PlannerSettings

    planner = LlmPlanner(PlannerSettings(model="smollm2-135m", max_tokens=200, max_calls=4, inventory=inventory))
    cases = [("remind me tomorrow at 9 to call the bank", ("create_reminder",)),
             ("remind me friday to renew my passport", ("create_reminder",)),
             ("set up a 45 minute zoom on thursday at 2pm", ("get_zoom_meeting_link",)),
             ("put lunch with Sid on my Work calendar tomorrow at noon", ("create_calendar_event",)),
             # Nothing or only a length grounded: any date, and still a valid plan.
             ("block some time for deep work on my calendar", ("create_calendar_event",)),
             ("a ten minute zoom with the team", ("get_zoom_meeting_link",))]
    for text, tools in cases:
        offers = ground(text, NOW, inventory).offers()
        written = "".join(planner.stream(PlanRequest(text, NOW, tools)))
        assert validate_plan(written).ok, (text, written)
        plan = parse_plan(written)
        for call in plan:
            if call.tool == "create_reminder":
                assert offers.reminder_dues and (call.args[1], call.args[5]) in offers.reminder_dues, text
            if call.tool == "get_zoom_meeting_link" and offers.starts:
                assert call.args[1] in offers.starts and call.args[2] in (offers.durations or ())
            if call.tool == "get_zoom_meeting_link" and offers.durations:
                assert call.args[2] in offers.durations
            if call.tool == "create_calendar_event" and offers.starts:
                assert call.args[2] in offers.starts[call.args[1]]
                assert call.args[6] == "Work"


def test_pippin_ground_prints_what_was_found_and_offered() -> None:
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pippin.cli", "ground", "remind me friday at 3 to call sit, it's urgent",
                          "--now", NOW, "--json"], capture_output=True, text=True, timeout=120, check=True)
    answer = json.loads(out.stdout)
    assert answer["offers"]["reminder_dues"] == [["2026-11-27 15:00:00", False], ["", False]]
    assert answer["offers"]["priorities"] == [1]
    assert ["sit", "Sid Jha"] in answer["found"]["people"]
