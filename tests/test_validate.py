import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.plan import Call
from shared.validate import PlanChecker, validate_plan


def errors(text: str, **kw: int) -> list[str]:
    return [str(e) for e in validate_plan(text, **kw).errors]


def test_dev_plans_are_valid(dev_cases: list[dict]) -> None:
    for case in dev_cases:
        assert validate_plan(case["plan"]).ok, case["id"]


@pytest.mark.parametrize("plan,expected", [
    ('1. send_fax("x")\n2. join()', "call 1 (send_fax): unknown tool 'send_fax'"),
    ('1. get_phone_number("a", "b")\n2. join()',
     "call 1 (get_phone_number): expected 1 arguments (name), got 2"),
    ('1. get_phone_number(3)\n2. join()',
     "call 1 (get_phone_number): argument 1 (name) must be a string, got int 3"),
    ('1. send_sms("+1555", "hi")\n2. join()',
     "call 1 (send_sms): argument 1 (recipients) must be a list of strings, got str '+1555'"),
    ('1. send_sms(["$1"], "hi")\n2. join()', "call 1 (send_sms): $1 refers to the call itself"),
    ('1. send_sms(["$2"], "hi")\n2. get_phone_number("a")\n3. join()',
     "call 1 (send_sms): $2 refers to a later call"),
    ('1. get_phone_number("a")\n3. join()', "call 3 (join): numbering gap: expected call 2, got 3"),
    ('1. get_phone_number("a")\n1. join()', "call 1 (join): number 1 repeats or goes backwards; expected 2"),
    ('1. get_phone_number("a")', "plan does not end with join()"),
    ('1. join()\n2. get_phone_number("a")', "call 2 (get_phone_number): comes after join(); join() must be the last line"),
    ("", "plan is empty"),
    ('1. maps_show_directions("", "SFO", "bike")\n2. join()',
     "argument 3 (transport) must be one of 'd', 'w', 'r', got 'bike'"),
    ('1. create_reminder("x", "tomorrow", "", "", 0, False)\n2. join()',
     "argument 2 (due_date) must be a date and time 'YYYY-MM-DD HH:MM:SS', got 'tomorrow'"),
    ('1. create_reminder("x", "2026-02-30 10:00:00", "", "", 0, False)\n2. join()',
     "must be a date and time"),
    ('1. create_reminder("x", "", "", "", 11, False)\n2. join()', "must be between 0 and 9, got 11"),
    ('1. create_reminder("x", "", "", "", 0, 1)\n2. join()', "must be True or False, got 1"),
    ('1. join(1)', "join() takes no arguments"),
    ('1 get_phone_number("a")\n2. join()', "line 1: expected 'N. tool_name(arguments)'"),
])
def test_errors_are_precise(plan: str, expected: str) -> None:
    errs = errors(plan)
    assert any(expected in e for e in errs), errs


def test_too_many_calls() -> None:
    plan = "\n".join(f'{i}. get_phone_number("a")' for i in range(1, 5)) + "\n5. join()"
    assert any("more than 3 calls" in e for e in errors(plan, max_calls=3))
    assert errors(plan, max_calls=4) == []


def test_refs_are_fine_where_strings_are() -> None:
    plan = ('1. get_zoom_meeting_link("x", "2026-11-24 10:00:00", 60, [])\n'
            '2. create_calendar_event("x", "2026-11-24 10:00:00", "2026-11-24 11:00:00", "$1", [], "", "")\n'
            "3. join()")
    assert errors(plan) == []


def test_incremental_checker() -> None:
    checker = PlanChecker()
    assert checker.add(Call(1, "get_phone_number", ("a",))) == []
    assert [e.message for e in checker.add(Call(2, "send_sms", (["$3"], "x")))] == ["$3 refers to a later call"]
    assert checker.finish()[0].message == "plan does not end with join()"


plan_like = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.builds(lambda n, t, a: f"{n}. {t}({a})", st.integers(-2, 30),
                  st.sampled_from(["join", "send_sms", "get_phone_number", "create_reminder", "x"]),
                  st.text(alphabet='"$[],0123456789 TrueNoneabc\\', max_size=40)),
    ),
    max_size=8,
).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), plan_like))
def test_no_input_crashes_the_validator(text: str) -> None:
    result = validate_plan(text)
    assert isinstance(result.errors, list)
    assert result.ok == (not result.errors)
