import dataclasses
import json
import subprocess
import sys

import pytest

from pippin.evaluation import evaluate, evaluate_case, same_graph, summarize
from services.planner.reference import ReferencePlanner
from shared import paths
from shared.cases import Case
from shared.plan import parse_plan

REF = """1. get_email_address("Sarah Kim")
2. open_and_get_file_path("Q3 report")
3. compose_new_email(["$1"], [], "Q3 report", "Attached.", ["$2"])
4. create_reminder("Follow up", "2026-11-27 00:00:00", "", "", 0, True)
5. join()"""
CASE = Case("t1", "email Sarah Kim the Q3 report and remind me Friday to follow up", REF, ("mail",))


class FixedPlanner:
    name = "fixed"

    def __init__(self, text: str) -> None:
        self.text = text

    def stream(self, request):
        yield self.text


def score(text: str, world_path) -> tuple[bool, bool, bool]:
    r = evaluate_case(FixedPlanner(text), CASE, world_path)
    return r.parse_ok, r.graph_ok, r.effect_ok


def test_reference_plan_scores(world_path) -> None:
    assert score(REF, world_path) == (True, True, True)


def test_free_text_and_order_do_not_matter(world_path) -> None:
    reordered = """1. create_reminder("Ping Sarah", "2026-11-27 00:00:00", "", "", 0, True)
2. open_and_get_file_path("q3 financial report")
3. get_email_address("sarah kim")
4. compose_new_email(["$3"], [], "Report", "Here it is.", ["$2"])
5. join()"""
    assert score(reordered, world_path) == (True, True, True)


@pytest.mark.parametrize("plan,expect", [
    # wrong tool: a text instead of an email
    (REF.replace('compose_new_email(["$1"], [], "Q3 report", "Attached.", ["$2"])',
                 'send_sms(["$1"], "Attached.")'), (True, False, False)),
    # missing dependency: attachment given as a literal path, not from the lookup
    (REF.replace('["$2"])', '["/Users/alex/Documents/Q3 Financial Report.pdf"])'), (True, False, True)),
    # extra call
    (REF.replace("5. join()", '5. maps_open_location("SFO")\n6. join()'), (True, False, False)),
    # wrong recipient
    (REF.replace("Sarah Kim", "Sarah Lopez"), (True, True, False)),
    # wrong time
    (REF.replace("2026-11-27 00:00:00", "2026-11-28 00:00:00"), (True, True, False)),
    # not a plan at all
    ("I will email Sarah.", (False, False, False)),
])
def test_scorer_fails_plans_that_differ(plan: str, expect: tuple, world_path) -> None:
    assert score(plan, world_path) == expect


def test_wrong_event_time_and_calendar(world_path) -> None:
    ref = ('1. create_calendar_event("Deep work", "2026-11-24 14:00:00", "2026-11-24 16:00:00", "", [], "", "")'
           "\n2. join()")
    case = Case("t2", "block 2 to 4 tomorrow", ref)
    for wrong in ["2026-11-24 15:00:00", "2026-11-25 14:00:00"]:
        r = evaluate_case(FixedPlanner(ref.replace("2026-11-24 14:00:00", wrong)), case, world_path)
        assert r.graph_ok and not r.effect_ok
    r = evaluate_case(FixedPlanner(ref.replace('"", "")', '"", "Work")')), case, world_path)
    assert r.graph_ok and not r.effect_ok


def test_wrong_fields_name_what_differs_and_count_the_grounded_ones(world_path) -> None:
    ref = ('1. create_calendar_event("Deep work", "2026-11-24 14:00:00", "2026-11-24 16:00:00", "", [], "", "")'
           '\n2. create_reminder("Stretch", "2026-11-24 09:00:00", "", "", 0, False)\n3. join()')
    case = Case("t2", "block 2 to 4 tomorrow and remind me at 9 to stretch", ref)
    wrong = (ref.replace("16:00:00", "15:00:00").replace('"", "")', '"", "Work")')
             .replace('"", 0, False', '"", 1, False'))
    r = evaluate_case(FixedPlanner(wrong), case, world_path)
    assert r.graph_ok and not r.effect_ok
    assert sorted(r.wrong_fields) == ["event.calendar", "event.end", "reminder.priority"]
    missing = evaluate_case(FixedPlanner(ref.split("\n2.")[0] + "\n2. join()"), case, world_path)
    assert not missing.effect_ok and missing.wrong_fields == []  # a call left out names no field
    priority_only = evaluate_case(FixedPlanner(ref.replace('"", 0, False', '"", 1, False')), case, world_path)
    summary = summarize([r, missing, priority_only, evaluate_case(FixedPlanner(ref), case, world_path)], "fixed")
    assert summary["plans_with_grounded_fields_wrong"] == 0.25  # priority is not grounded
    assert summary["fields_wrong"] == {"reminder.priority": 2, "event.calendar": 1, "event.end": 1}
    assert summary["plans_with_repeats_dropped"] == 0.0  # a fixed planner drops nothing


def test_the_summary_counts_plans_that_lost_a_repeated_call(world_path) -> None:
    ref = '1. create_reminder("Stretch", "2026-11-24 09:00:00", "", "", 0, False)\n2. join()'
    case = Case("t3", "remind me at 9 to stretch", ref)
    plain = evaluate_case(FixedPlanner(ref), case, world_path)
    merged = dataclasses.replace(plain, repeats_dropped=1)
    assert summarize([plain, merged], "fixed")["plans_with_repeats_dropped"] == 0.5


def test_graph_isomorphism_uses_edges() -> None:
    a = parse_plan('1. get_phone_number("a")\n2. get_phone_number("b")\n3. send_sms(["$1", "$2"], "x")\n4. join()')
    b = parse_plan('1. get_phone_number("a")\n2. get_phone_number("b")\n3. send_sms(["$2"], "x")\n4. join()')
    assert same_graph(a, a) and not same_graph(a, b)


def test_planner_crash_is_a_failed_case(world_path) -> None:
    class Boom:
        name = "boom"

        def stream(self, request):
            raise RuntimeError("model exploded")

    r = evaluate_case(Boom(), CASE, world_path)
    assert not r.parse_ok and r.errors == ["planner failed: RuntimeError: model exploded"]


def test_reference_planner_scores_one_on_dev_via_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pippin.cli", "eval", str(paths.dev_cases()), "--planner", "reference", "--json"],
        capture_output=True, text=True, check=True,
    )
    summary = json.loads(out.stdout)
    assert summary["n"] == 120
    assert summary["graph_success"] == 1.0 and summary["effect_success"] == 1.0
    assert summary["parse_failures"] == 0.0


def test_summary_breaks_down_by_tag(world_path) -> None:
    cases = [CASE, Case("t3", "hi", "1. join()", ("decline",))]
    summary, _ = evaluate(ReferencePlanner.from_cases(cases), cases, world_path)
    assert summary["by_tag"]["decline"] == {"n": 1, "graph_success": 1.0, "effect_success": 1.0}
    assert summary["tool_recall"] == 1.0
