"""The planner: prompt, grammar and the real llama.cpp path with a tiny model
(SmolLM2-135M): grammar-valid output and streaming, not accuracy."""

import json
import time

import pytest

from services.planner.base import PlanRequest
from services.planner.examples import EXAMPLES
from services.planner.grammar import plan_grammar
from services.planner.prompt import build_prompt, date_context
from shared.cases import EXAMPLE_NOW
from shared.plan import Call, StreamingPlanParser
from shared.runtime import models
from shared.validate import validate_plan

NOW = "2026-11-23 09:30:00"


def test_examples_are_valid_and_our_own(dev_cases) -> None:
    queries = {c["query"].casefold() for c in dev_cases}
    for e in EXAMPLES:
        assert validate_plan(e.plan).ok, e.query
        assert e.query.casefold() not in queries


def test_date_context_spells_out_the_week() -> None:
    text = date_context(NOW)
    assert text.startswith("Now: Monday 2026-11-23 09:30.")
    assert "tomorrow 2026-11-24" in text and "Friday 2026-11-27" in text
    assert date_context(EXAMPLE_NOW).startswith("Now: Tuesday 2026-03-10")


def test_static_part_is_a_common_prefix() -> None:
    a = build_prompt("text Sid", NOW).render("chatml")
    b = build_prompt("email Maya the lease", "2026-12-01 10:00:00").render("chatml")
    cut = a.rindex("<|im_start|>user")
    assert a[:cut] == b[:cut]
    alpaca = build_prompt("text Sid", NOW).render("alpaca")
    assert "### Instruction:" in alpaca and alpaca.endswith("### Response:\n")


def test_grammar_for_a_subset_names_only_those_tools() -> None:
    g = plan_grammar(("get_phone_number", "send_sms"), max_calls=3)
    assert '"send_sms("' in g and "compose_new_email" not in g
    assert 'plan4 ::= "4. " "join()"' in g
    with pytest.raises(KeyError):
        plan_grammar(("launch_rockets",))


def test_checksum_mismatch_is_refused(tmp_path) -> None:
    f = tmp_path / "model.gguf"
    f.write_bytes(b"not a model")
    with pytest.raises(models.ModelError, match="refusing to load it"):
        models.verify(f, "0" * 64)


@pytest.fixture(scope="module")
def tiny():
    from services.planner.llm import LlmPlanner, PlannerSettings

    return LlmPlanner(PlannerSettings(model="smollm2-135m", n_ctx=4096, max_tokens=160, max_calls=6))


QUERIES = ["text Sid that I'm running late", "email Maya the Q3 report and remind me Friday to follow up",
           "what's the weather tomorrow", "show me the way to the ferry building by bus",
           "set up a zoom with Priya on Wednesday at 3 and put it on my calendar"]


@pytest.mark.llm
def test_tiny_model_output_is_always_a_valid_plan(tiny) -> None:
    for q in QUERIES:
        text = "".join(tiny.stream(PlanRequest(q, NOW)))
        result = validate_plan(text)
        assert result.ok, (q, text, result.errors)
        assert result.calls[-1].is_join


@pytest.mark.llm
def test_calls_stream_before_the_plan_is_finished() -> None:
    # The shipped planner: the tiny model writes one-call plans, whose only call ends the plan.
    from services.planner.llm import LlmPlanner, PlannerSettings

    planner = LlmPlanner(PlannerSettings())
    parser = StreamingPlanParser()
    seen: list[tuple[float, Call]] = []
    t0 = time.perf_counter()
    for chunk in planner.stream(PlanRequest("email Maya the Q3 report and remind me Friday to follow up", NOW)):
        for item in parser.feed(chunk):
            if isinstance(item, Call):
                seen.append((time.perf_counter() - t0, item))
    end = time.perf_counter() - t0
    assert len(seen) >= 2
    assert seen[0][0] < end - 0.05, "the first call arrived only at the very end"
    assert planner.last.generated_tokens > 0 and planner.last.seconds_to_first_token <= seen[0][0]


@pytest.mark.llm
def test_prefix_reuse_evaluates_only_the_request(tiny) -> None:
    list(tiny.stream(PlanRequest("text Sid hi", NOW)))
    list(tiny.stream(PlanRequest("text Maya hello there", NOW)))
    assert tiny.last.prompt_tokens > 1000
    assert tiny.last.prompt_tokens_evaluated < 40


@pytest.mark.llm
def test_warming_with_the_words_so_far_leaves_little_to_evaluate(tiny) -> None:
    """prefill (the voice path, while the user speaks) evaluates the prompt up to the words
    heard so far; the plan for the final words then evaluates only what is new, and is the
    plan made without warming."""
    other, later = "2026-11-20 08:00:00", "2026-11-24 10:30:00"  # another day: a new date table
    final = "text Maya that the demo moved to 4pm"
    list(tiny.stream(PlanRequest("show me the ferry building", other)))
    plain = "".join(tiny.stream(PlanRequest(final, later)))
    cold_tokens = tiny.last.prompt_tokens_evaluated
    list(tiny.stream(PlanRequest("show me the ferry building", other)))
    assert tiny.prefill(PlanRequest("", later)) > 20  # the date table, at the wake word
    assert tiny.prefill(PlanRequest("text Maya that the", later)) > 0
    assert tiny.prefill(PlanRequest("text Maya that the", later)) == 0  # nothing new
    warmed = "".join(tiny.stream(PlanRequest(final, later)))
    assert warmed == plain
    assert tiny.last.prompt_tokens_evaluated < cold_tokens / 3, (tiny.last, cold_tokens)


@pytest.mark.llm
def test_the_static_prompt_comes_back_from_its_session_file_after_another_layout(tiny) -> None:
    """A typed request with a retrieved subset between two voice requests (static prompt):
    the static prefix is read back from its session file, not evaluated again."""
    tools = ("get_phone_number", "send_sms")
    list(tiny.stream(PlanRequest("text Sid hi", NOW, tools, layout="subset")))
    list(tiny.stream(PlanRequest("text Maya hello there", NOW, tools, layout="grammar")))
    assert tiny.last.prompt_tokens > 1000
    assert tiny.last.prompt_tokens_evaluated < 150, tiny.last


@pytest.mark.llm
def test_a_token_budget_cut_still_ends_in_join() -> None:
    from services.planner.llm import LlmPlanner, PlannerSettings

    p = LlmPlanner(PlannerSettings(model="smollm2-135m", max_tokens=25))
    text = "".join(p.stream(PlanRequest("text Sid, Maya, Priya and Ryan that the offsite is on", NOW)))
    assert validate_plan(text).ok, text


def test_a_streamed_plan_loses_its_repeated_calls_as_it_streams() -> None:
    from services.planner.llm import _without_repeats
    from shared.plan import RepeatedCalls

    # The shapes the planner hands on: a call as soon as it closes, its newline apart, or
    # whole lines; a repeat's newline goes with it.
    pieces = ['1. get_phone_number("Sid Jha")', "\n", '2. get_phone_number("Sid Jha")', "\n",
              '3. send_sms(["$2"], "late")\n', '4. get_phone_number("Sid Jha")\n', "5. join()"]
    repeats = RepeatedCalls()
    text = "".join(_without_repeats(iter(pieces), repeats))
    assert text == '1. get_phone_number("Sid Jha")\n2. send_sms(["$1"], "late")\n3. join()'
    assert validate_plan(text).ok and repeats.dropped == 2


@pytest.mark.llm
def test_pippin_plan_json() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pippin.cli", "plan", "text Sid that I'm late", "--model",
                          "smollm2-135m", "--json"], capture_output=True, text=True, timeout=300)
    data = json.loads(out.stdout)
    assert data["errors"] == [] and data["calls"] and data["stats"]["prompt_tokens"] > 0


@pytest.mark.llm
def test_our_decoder_writes_the_plans_llama_cpp_python_writes(tiny) -> None:
    """The greedy decoder (grammar checked lazily) against llama-cpp-python's own loop on the
    same model: the same plans, token for token; only the work differs."""
    from services.planner.llm import LlmPlanner, PlannerSettings

    theirs = LlmPlanner(PlannerSettings(model="smollm2-135m", n_ctx=4096, max_tokens=160, max_calls=6,
                                        decoder="llama"))
    stepwise = LlmPlanner(PlannerSettings(model="smollm2-135m", n_ctx=4096, max_tokens=160, max_calls=6,
                                          jump_forward=False))
    for q in QUERIES:
        ours = "".join(stepwise.stream(PlanRequest(q, NOW)))
        ours_tokens = stepwise.last.generated_tokens
        assert "".join(theirs.stream(PlanRequest(q, NOW))) == ours, q
        assert theirs.last.generated_tokens == ours_tokens


@pytest.mark.llm
def test_jump_forward_writes_the_step_by_step_plans_in_fewer_model_steps_and_keeps_the_context_true(tiny) -> None:
    """The tokens the grammar forces (llguidance) go into the context in one batch with the
    token before them, checked against the model's own choice at every position of the
    batch: the same plans, token for token, as one decode step a token under llama.cpp's
    grammar sampler, in fewer model evaluations. The context holds the prompt and the plan
    (its last token needs no evaluation: after join() only the end is left). Exact because
    the build and the kernels give a token the same logits in a batch as alone
    (shared.runtime.models.load_llama)."""
    from services.planner.llm import LlmPlanner, PlannerSettings

    assert tiny.batch_invariant, "this llama.cpp is stock llamafile (not batch-invariant): run `make setup`"
    stepwise = LlmPlanner(PlannerSettings(model="smollm2-135m", n_ctx=4096, max_tokens=160, max_calls=6,
                                          jump_forward=False))
    forced = openings = 0
    for q in QUERIES:
        jumped = "".join(tiny.stream(PlanRequest(q, NOW)))
        stats, steps = tiny.last, tiny._decoder.last.batches
        assert validate_plan(jumped).ok, (q, jumped)
        assert "".join(stepwise.stream(PlanRequest(q, NOW))) == jumped, q
        assert stats.generated_tokens == stepwise.last.generated_tokens, q
        assert steps + stats.forced_tokens <= stepwise._decoder.last.batches + 1, q
        assert steps < stats.generated_tokens or stats.generated_tokens <= 2, q
        forced += stats.forced_tokens
        openings += tiny._decoder.last.opening > 0
        llm = tiny._llm
        prompt = llm.tokenize(tiny.prompt_text(PlanRequest(q, NOW)).encode(), add_bos=False, special=True)
        held = list(llm.input_ids[: llm.n_tokens])
        assert held[: len(prompt)] == prompt
        written = text_of(llm, held[len(prompt):])
        assert jumped.strip().startswith(written) and len(written) >= len(jumped.strip()) - 8, (written, jumped)
    assert forced > 20, "the grammar forced (almost) nothing"
    assert openings == len(QUERIES), "a plan's opening (1. ) was not kept from the prompt's batch"


def decode(decoder, grammar: str, prompt: bytes = b"Say something:") -> list[str | tuple[str, int]]:
    """What one greedy decode yields, in order, with each model evaluation after the prompt
    as ("evaluate", batch size) between the pieces."""
    llm = decoder.llm
    tokens = llm.tokenize(prompt, add_bos=False)
    llm.reset()
    llm._ctx.kv_cache_seq_rm(-1, 0, -1)
    events: list[str | tuple[str, int]] = []
    evaluate = decoder._evaluate

    def recorded(batch: list[int], *, rows: int = 1):
        if llm.n_tokens >= len(tokens):
            events.append(("evaluate", len(batch)))
        return evaluate(batch, rows=rows)

    decoder._evaluate = recorded
    try:
        events.extend(decoder.generate(tokens, 0, grammar=grammar, max_tokens=80, stop=[]))
    finally:
        del decoder._evaluate
    return events


@pytest.mark.llm
def test_forced_text_is_handed_on_before_the_batch_that_checks_it(tiny) -> None:
    """A call's closing newline (and the next line's number) reaches the scheduler without
    waiting for the model: the grammar forces that text, so it comes out before the batch
    holding its tokens is evaluated, not after."""
    events = decode(tiny._decoder, 'root ::= "say(\\"" [a-z] [a-z]? "\\")\\n2. join()"')
    text = "".join(e for e in events if isinstance(e, str))
    assert text.endswith('")\n2. join()'), text
    closing = next(i for i, e in enumerate(events) if isinstance(e, str) and "\n" in e)
    quote = max(i for i in range(closing + 1) if isinstance(events[i], str) and '"' in events[i])
    # No evaluation between the model's own `"` and the newline; the batch of both comes after.
    assert all(isinstance(e, str) for e in events[quote:closing + 1]), events
    assert any(isinstance(e, tuple) and e[1] > 1 for e in events[closing:]), events


@pytest.mark.llm
def test_an_opening_the_model_cuts_otherwise_is_refused_in_the_prompts_batch_and_written_once(tiny) -> None:
    """The text a grammar forces before the model chooses anything is evaluated with the
    prompt (a plan's "1. ": see the jump-forward test); where the model would cut it into
    other tokens (here "s" for llguidance's "say"), its own token is taken from the prompt's
    rows and the text comes out once, as step by step."""
    from services.planner.decoding import PlanDecoder

    grammar = 'root ::= "say(\\"" [a-z] [a-z]? "\\")"'
    events = decode(tiny._decoder, grammar)
    assert tiny._decoder.last.refused > 0 and tiny._decoder.last.opening == 0, events
    stepwise = decode(PlanDecoder(tiny._llm, jump_forward=False), grammar)
    text = "".join(e for e in events if isinstance(e, str))
    assert text == "".join(e for e in stepwise if isinstance(e, str)) and text.startswith('say("'), text


@pytest.mark.llm
def test_forced_text_the_model_cuts_otherwise_is_written_once(tiny) -> None:
    """Where the model would cut forced text into other tokens than llguidance did, its own
    tokens are taken; the text they spell was handed on already and is not written again:
    the same text as step-by-step decoding, with refusals on the way."""
    from services.planner.decoding import PlanDecoder

    word = "pneumonoultramicroscopicsilicovolcanoconiosis"
    grammar = f'root ::= "say(" [a-z] [a-z]? "{word}"'
    jumped = decode(tiny._decoder, grammar)
    assert tiny._decoder.last.refused > 0, "no forced token was refused: pick a word the model cuts otherwise"
    stepwise = decode(PlanDecoder(tiny._llm, jump_forward=False), grammar)
    text = "".join(e for e in jumped if isinstance(e, str))
    assert text == "".join(e for e in stepwise if isinstance(e, str))
    assert text.startswith("say(") and text.endswith(word) and text.count(word) == 1, text


@pytest.mark.llm
def test_the_best_token_may_end_a_string_the_grammar_must_close(tiny) -> None:
    """At a string's length limit the grammar forces `")`; llguidance's mask then offers only
    tokens that cover it, not `"` alone, which llama.cpp's grammar (step by step) accepts and
    takes when the model rates it higher. Jump-forward's choice must be the same."""
    import numpy as np

    decoder, llm = tiny._decoder, tiny._llm
    assert decoder.jump_forward
    check = decoder._grammar('root ::= "say(\\"" [a-z] [a-z]? [a-z]? "\\")"')
    for token in llm.tokenize(b'say("abc', add_bos=False):
        check.accept(token)
    (quote,) = llm.tokenize(b'"', add_bos=False)
    assert check.allows(quote)
    logits = np.zeros(llm.n_vocab(), dtype=np.float32)
    logits[quote] = 1.0
    assert check.best(logits) == quote


@pytest.mark.llm
def test_a_batch_gives_a_token_the_logits_a_single_step_gives(tiny) -> None:
    """What the exactness of jump-forward and drafts rests on, and a plan's independence from
    what was cached before it: the same logits, bit for bit, for tokens evaluated one at a
    time and in batches of every split of 48 tokens tried here (up to a batch of 48), a
    prompt's included. On the build `make setup` installed: on x86-64 llamafile's sgemm
    patched by scripts/patch_llama.py (stock llamafile fails this)."""
    import numpy as np

    llm = tiny._llm
    tokens = llm.tokenize(b'1. create_reminder("Call the bank", "2026-12-02 09:00:00", "", "", 0, False)\n'
                          b'2. send_email(["maya@example.com"], [], "Q3 report", "Here it is", ["/Users/me/Q3.pdf"])',
                          add_bos=False)
    head, tail = tokens[:6], tokens[6:54]

    def logits(sizes: list[int]) -> np.ndarray:
        llm.reset()
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        tiny._decoder._evaluate(head)
        rows, at = [], 0
        for size in sizes:
            rows.append(tiny._decoder._evaluate(tail[at:at + size], rows=size).copy())
            at += size
        return np.concatenate(rows)

    one_by_one = logits([1] * 48)
    for sizes in ([48], [2, 3, 5, 6, 32], [8, 8, 32], [4, 12, 32], [40, 8], [31, 17]):
        assert np.array_equal(logits(sizes), one_by_one), sizes


def text_of(llm, tokens: list[int]) -> str:
    return llm.detokenize(tokens).decode()


@pytest.mark.llm
def test_prompt_lookup_drafts_leave_the_context_holding_only_what_was_written() -> None:
    """With drafts, some are accepted, the plan is still valid under the grammar, and the
    context holds exactly the prompt and the plan written (refused drafts are taken out,
    also when the reader stops mid-plan), so the next request reuses it as a prefix."""
    from services.planner.llm import LlmPlanner, PlannerSettings

    p = LlmPlanner(PlannerSettings(model="smollm2-135m", max_tokens=160, max_calls=6, draft_tokens=6,
                                   jump_forward=False))
    q = "email Maya the Q3 report and remind me Friday to follow up"
    text = "".join(p.stream(PlanRequest(q, NOW)))
    assert validate_plan(text).ok, text
    assert p.last.draft_tokens > 0 and 0 < p.last.draft_accepted <= p.last.draft_tokens
    llm = p._llm
    prompt = llm.tokenize(p.prompt_text(PlanRequest(q, NOW)).encode(), add_bos=False, special=True)
    held = list(llm.input_ids[: llm.n_tokens])
    assert held[: len(prompt)] == prompt
    assert llm.detokenize(held[len(prompt):]).decode() == text.strip()
    stream = p.stream(PlanRequest(q, NOW))
    next(stream)
    stream.close()  # a reader that stops after the first line
    held = list(llm.input_ids[: llm.n_tokens])
    assert p._decoder._unverified == 0 and held[: len(prompt)] == prompt
    assert "".join(p.stream(PlanRequest(q, NOW))) == text  # a batch's logits are a single step's
    assert p.last.prompt_tokens_evaluated <= 1


def test_prompt_lookup_proposes_what_followed_the_latest_match() -> None:
    import numpy as np

    from services.planner.decoding import prompt_lookup

    ctx = np.array([5, 1, 2, 3, 9, 9, 1, 2, 3, 4, 7, 8, 0, 1, 2, 3], dtype=np.intc)
    assert prompt_lookup(ctx, ngram_max=4, ngram_min=2, draft_max=3) == [4, 7, 8]  # the latest "1 2 3"
    assert prompt_lookup(ctx, ngram_max=4, ngram_min=2, draft_max=1) == [4]
    assert prompt_lookup(np.array([1, 2, 3, 4], dtype=np.intc), 4, 2, 5) == []  # no earlier occurrence


def test_stop_strings_are_held_back_until_they_are_known() -> None:
    from services.planner.decoding import TextStream

    t = TextStream(["<END_OF_PLAN>", "###"])
    assert t.add(b"2. join()") == "2. join()"
    assert t.add(b"<END") == ""  # may be the start of a stop string
    assert t.add(b"_OF") == "" and not t.stopped
    assert t.add(b"_PLAN> more") == "" and t.stopped
    t = TextStream(["###"])
    assert t.add(b"a #") == "a " and t.add(b"b") == "#b"
    assert t.add("é".encode()[:1]) == "" and t.add("é".encode()[1:]) == "é"  # a character split over tokens


@pytest.mark.llm
def test_pippin_plan_prints_only_its_answer_unless_verbose() -> None:
    """The shipped adapter on repacked weights makes llama.cpp log buffer fallbacks while it
    loads: not shown without -v, shown with it. (The batch-invariant planner loads without
    repacked weights, and the adapter merged into them by default, where llama.cpp has nothing
    to say, so the loud load is made directly.)"""
    import subprocess
    import sys

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pippin.cli", *flags, "plan", "text Sid that I'm late"],
                              capture_output=True, text=True, timeout=300, check=True)

    quiet = run()
    assert "llama" not in quiet.stderr and "Loading" not in quiet.stderr, quiet.stderr[-500:]
    assert "join()" in quiet.stdout
    loud = ("from pippin.cli import quiet_libraries; quiet_libraries({v}); "
            "from services.planner.llm import LlmPlanner, PlannerSettings; "
            "LlmPlanner(PlannerSettings(batch_invariant=False, prefix_reuse=False, merge_adapter=False))")
    for verbose in (False, True):
        done = subprocess.run([sys.executable, "-c", loud.format(v=verbose)], capture_output=True, text=True,
                              timeout=300, check=True)
        assert ("llama_adapter" in done.stderr) == verbose, done.stderr[-500:]


def test_the_planner_options_of_the_cli_reach_the_planner_settings() -> None:
    from pippin.cli import build_parser
    from services.planner.llm import PlannerSettings

    args = build_parser().parse_args(["plan", "text sid", "--model", "merged.gguf", "--lora", "",
                                      "--prompt-style", "grounded", "--keep-repeats", "--no-merge"])
    s = PlannerSettings.from_args(args)
    assert (s.model, s.lora_path, s.prompt_style, s.merge_repeats, s.merge_adapter) == (
        "merged.gguf", "", "grounded", False, False)
    default = PlannerSettings.from_args(build_parser().parse_args(["plan", "text sid"]))
    assert (default.lora_path, default.prompt_style, default.merge_repeats, default.merge_adapter) == (
        None, None, True, True)
