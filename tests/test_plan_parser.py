import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.plan import Call, PlanSyntaxError, StreamingPlanParser, Thought, parse_plan, resolve_refs


def stream_calls(text: str, cuts: list[int]) -> list[Call]:
    parser = StreamingPlanParser()
    out = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(text)]:
        out.extend(parser.feed(text[prev:cut]))
        prev = cut
    out.extend(parser.close())
    return [i for i in out if isinstance(i, Call)]


def test_forms_of_the_language() -> None:
    text = ('Thought: look up then text\n1. get_phone_number("Sid Jha")\n'
            '2. send_sms(["${1}"], "On my way, $1 - it\'s \\"late\\"")\n3. join()<END_OF_PLAN>')
    calls = parse_plan(text)
    assert [c.tool for c in calls] == ["get_phone_number", "send_sms", "join"]
    assert calls[1].args == (["${1}"], 'On my way, $1 - it\'s "late"')
    assert calls[1].deps() == {1}
    assert calls[2].is_join


def test_literals() -> None:
    (c, _j) = parse_plan('1. create_reminder("x", "", None, "", -1, True)\n2. join()')
    assert c.args == ("x", "", None, "", -1, True)


@pytest.mark.parametrize("line,reason", [
    ("1 get_phone_number('x')", "expected 'N. tool_name"),
    ('1. get_phone_number("x"', "expected 'N. tool_name"),
    ("1. f(x)", "is not a string"),
    ("1. f({'a': 1})", "is not a string"),
    ("1. f(name='x')", "keywords"),
    ("1. f([1, 2])", "list items must be strings"),
    ("1. f(\"a\" \"b\" +)", "do not parse"),
])
def test_syntax_errors_say_why(line: str, reason: str) -> None:
    with pytest.raises(PlanSyntaxError, match=reason):
        parse_plan(line + "\n2. join()")


def test_streaming_yields_a_call_before_its_newline() -> None:
    parser = StreamingPlanParser()
    assert list(parser.feed('1. get_phone_number("Sid')) == []
    got = list(parser.feed(' Jha")'))  # no newline yet
    assert got == [Call(1, "get_phone_number", ("Sid Jha",))]
    assert list(parser.feed("\n2. jo")) == []
    assert list(parser.feed("in()")) == [Call(2, "join", ())]
    assert parser.done
    assert list(parser.feed("\n3. send_sms([], 'ignored')\n")) == []


def test_paren_inside_a_string_waits_for_the_end() -> None:
    parser = StreamingPlanParser()
    assert list(parser.feed('1. create_note("a (b)')) == []
    assert list(parser.feed('", "c", "")')) == [Call(1, "create_note", ("a (b)", "c", ""))]


def test_thoughts_are_items() -> None:
    parser = StreamingPlanParser()
    items = list(parser.feed("Thought: hmm\n1. join()\n"))
    assert items == [Thought("hmm"), Call(1, "join", ())]


def test_streaming_equals_whole_on_every_dev_plan(dev_cases: list[dict]) -> None:
    for case in dev_cases:
        text = case["plan"]
        whole = parse_plan(text)
        assert stream_calls(text, list(range(len(text)))) == whole  # one character at a time
        assert stream_calls(text, []) == whole


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_streaming_equals_whole_for_any_chunking(data: st.DataObject, dev_cases: list[dict]) -> None:
    text = data.draw(st.sampled_from([c["plan"] for c in dev_cases]))
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=30))
    assert stream_calls(text, cuts) == parse_plan(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_no_string_crashes_the_parsers(text: str) -> None:
    with contextlib.suppress(PlanSyntaxError):
        parse_plan(text)
    with contextlib.suppress(PlanSyntaxError):
        stream_calls(text, [len(text) // 2])


def test_resolve_refs() -> None:
    results = {1: "+1555", 2: "https://zoom.us/j/1"}
    assert resolve_refs(["$1", "${1}"], results) == ["+1555", "+1555"]
    assert resolve_refs("link: $2.", results) == "link: https://zoom.us/j/1."
    assert resolve_refs(5, results) == 5


def test_a_repeated_call_is_dropped_and_later_references_name_the_first() -> None:
    from shared.plan import RepeatedCalls

    written = parse_plan('1. get_phone_number("Sid Jha")\n'
                         '2. get_email_address("Maya Patel")\n'
                         '3. get_phone_number("Sid Jha")\n'
                         '4. send_sms(["$3"], "running late")\n'
                         '5. compose_new_email(["${2}"], [], "Late", "about $4", [])\n'
                         '6. send_sms(["$1"], "running late")\n'
                         '7. join()')
    repeats = RepeatedCalls()
    kept = [c for c in (repeats.keep(c) for c in written) if c is not None]
    assert [c.render() for c in kept] == ['1. get_phone_number("Sid Jha")',
                                          '2. get_email_address("Maya Patel")',
                                          '3. send_sms(["$1"], "running late")',
                                          '4. compose_new_email(["${2}"], [], "Late", "about $3", [])',
                                          '5. join()']
    assert repeats.dropped == 2  # the lookup, and the text it would have sent twice


def test_calls_alike_but_for_an_argument_are_both_kept() -> None:
    from shared.plan import RepeatedCalls

    written = parse_plan('1. get_email_address("Sid Jha")\n2. get_email_address("Maya Patel")\n'
                         '3. compose_new_email(["$1"], [], "Hi", "", [])\n'
                         '4. compose_new_email(["$2"], [], "Hi", "", [])\n5. join()')
    repeats = RepeatedCalls()
    assert [repeats.keep(c) for c in written] == written and repeats.dropped == 0
