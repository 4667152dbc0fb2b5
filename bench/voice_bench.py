"""Voice: word error rate and real-time factor of the ASR, wake detection rate and false
wakes, and the latency from the end of speech to the first call, with early planning on
and off (a ratio from the same run). Speech is made by espeak-ng in several voices.
`asr_variants`: the default ASR (base in a 10 s encoder window) against tiny.en and base
in Whisper's own 30 s window, on the same utterances."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from pippin import speech
from pippin.listen import listen
from services.executor.ledger import Executor, Ledger
from services.executor.simmac import SimulatedMac
from services.listener.audio import FRAME_BYTES, frames_of
from services.listener.listener import ListenerSettings, Voice
from shared import paths

# Our own requests (not the eval's), spoken the way a user would say them.
REQUESTS = [
    "remind me tomorrow to water the plants",
    "text Sid that I am running late",
    "show me the Golden Gate Bridge on the map",
    "email Maya the lease agreement",
    "create a note called groceries with eggs and milk",
    "how do I get to the airport by train",
    "set up a zoom meeting with Priya on Friday at ten",
    "what is the phone number of Tom Becker",
]
# The tools a right plan for each request calls (whatever the arguments).
EXPECTED_TOOLS = {
    "remind me tomorrow to water the plants": {"create_reminder"},
    "text Sid that I am running late": {"get_phone_number", "send_sms"},
    "show me the Golden Gate Bridge on the map": {"maps_open_location"},
    "email Maya the lease agreement": {"get_email_address", "open_and_get_file_path", "compose_new_email"},
    "create a note called groceries with eggs and milk": {"create_note"},
    "how do I get to the airport by train": {"maps_show_directions"},
    "set up a zoom meeting with Priya on Friday at ten": {"get_email_address", "get_zoom_meeting_link"},
    "what is the phone number of Tom Becker": {"get_phone_number"},
}
VOICES = ["en-us", "en-gb", "en-us+f3"]
NOW = "2026-11-23 09:00:00"


def _wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                          jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    return float(jiwer.wer(refs, hyps, reference_transform=norm, hypothesis_transform=norm))


def asr_variants() -> dict[str, Any]:
    """Word error rate, real-time factor and seconds per decode of Whisper models and
    encoder windows, on the same utterances, one after another."""
    if not speech.available():
        return {"skipped": "espeak-ng and sox are not installed"}
    from services.listener.asr import Transcriber

    utterances = [(text, speech.say(text, v)) for v in VOICES for text in REQUESTS]
    out: dict[str, Any] = {"utterances": len(utterances)}
    for model, window in (("base", 10.0), ("base", 30.0), ("tiny.en", 30.0), ("tiny.en", 10.0)):
        transcriber = Transcriber(model, window_s=window)
        hyps, rtf, secs = [], [], []
        for _, pcm in utterances:
            got = transcriber.decode(pcm)
            hyps.append(got.text)
            rtf.append(got.seconds / got.audio_s)
            secs.append(got.seconds)
        out[f"{model} {window:.0f}s"] = {"word_error_rate": round(_wer([t for t, _ in utterances], hyps), 4),
                                         "real_time_factor_median": round(statistics.median(rtf), 3),
                                         "decode_s_median": round(statistics.median(secs), 3)}
    return out


def run(latency_requests: int = len(REQUESTS)) -> dict[str, Any]:
    if not speech.available():
        return {"skipped": "espeak-ng and sox are not installed"}
    voice = Voice(ListenerSettings())
    assert voice.wake is not None
    refs, hyps, rtf, detected, trials = [], [], [], 0, 0
    plain: list[bytes] = []
    for v in VOICES:
        for text in REQUESTS:
            pcm = speech.say(text, v)
            plain.append(pcm + speech.silence(0.6))
            got = voice.transcriber.decode(pcm)
            refs.append(text)
            hyps.append(got.text)
            rtf.append(got.seconds / got.audio_s)
            voice.wake.reset()
            woke = voice.wake.feed(speech.utterance(0.3, "hey jarvis", 0.4, voice=v) + pcm)
            detected += woke
            trials += 1
    # False wakes: all the requests without the wake phrase, in one stream.
    voice.wake.reset()
    stream = b"".join(plain)
    false_wakes = 0
    for i in range(0, len(stream), FRAME_BYTES * 4):
        if voice.wake.feed(stream[i:i + FRAME_BYTES * 4]):
            false_wakes += 1
            voice.wake.reset()
    hours = len(stream) / 2 / 16000 / 3600

    from services.planner.llm import LlmPlanner, PlannerSettings
    from services.retrieval.retriever import Retriever

    planner = LlmPlanner(PlannerSettings(model="qwen-0.5b"))
    retrieve = Retriever.load().tools_and_examples
    latencies: dict[str, list[float]] = {"early": [], "late": []}
    finals: list[float] = []  # end of speech -> final transcript (the endpointing wait, mostly)
    used = early_lookups = right_plans = 0
    plans: list[dict[str, str]] = []
    for i, text in enumerate(REQUESTS[:latency_requests]):
        voice_name = VOICES[i % len(VOICES)]  # the requests in turn in each voice
        pcm = speech.utterance(0.4, "hey jarvis", 0.4, text, 1.5, voice=voice_name)
        for mode in ("late", "early"):
            mac = SimulatedMac(":memory:", paths.default_world())
            report = asyncio.run(listen(frames_of(pcm, realtime=True), voice, planner, Executor(mac, Ledger()), NOW,
                                        early=mode == "early", retrieve=retrieve))
            for turn in report.turns:
                if mode == "early":
                    called = {c["tool"] for c in turn.result["calls"]}
                    right_plans += called == EXPECTED_TOOLS[text]
                    plans.append({"said": text, "voice": voice_name, "heard": turn.transcript,
                                  "plan": turn.result["plan"].replace("\n", " ")})
                finals.append(turn.final_after_speech_s)
                if turn.first_call_after_speech_s is not None:
                    latencies[mode].append(turn.first_call_after_speech_s)
                    early_lookups += turn.first_call_after_speech_s < turn.final_after_speech_s
                used += mode == "early" and turn.used_speculation
    early_med = statistics.median(latencies["early"]) if latencies["early"] else None
    late_med = statistics.median(latencies["late"]) if latencies["late"] else None
    return {
        "asr_model": f"{voice.settings.asr_model} {voice.settings.asr_window_s:.0f}s window",
        "utterances": len(refs), "voices": VOICES,
        "word_error_rate": round(_wer(refs, hyps), 4),
        "asr_real_time_factor_median": round(statistics.median(rtf), 3),
        "wake_detection_rate": round(detected / trials, 3),
        "false_wakes": false_wakes, "non_wake_speech_hours": round(hours, 4),
        "false_wakes_per_hour": round(false_wakes / hours, 1),
        "end_of_speech_to_first_call_s_median_early": early_med,
        "end_of_speech_to_first_call_s_median_late": late_med,
        "early_planning_speedup": round(late_med / early_med, 2) if early_med and late_med else None,
        "early_plan_used": f"{used}/{latency_requests}",
        # Plans (from what the ASR heard) that call exactly the tools the request needs.
        "plans_with_the_right_tools": f"{right_plans}/{latency_requests}",
        "plans": plans,
        # Turns whose first call was a lookup run from the speculative plan before the final transcript.
        "first_call_before_final_transcript": early_lookups,
        "end_of_speech_to_final_transcript_s_median": round(statistics.median(finals), 3) if finals else None,
        "latency_samples": latencies,
        "examples": [{"said": r, "heard": h} for r, h in list(zip(refs, hyps, strict=True))[:4]],
    }


# ---- requests said in one breath after the wake phrase, in a natural voice and espeak-ng -----
# Our own (not dev's or the fresh set's), as people say them to a phone; the tools a right plan
# calls. The voices say "hey jarvis <request>" with no pause, as people do.
NO_PAUSE: list[tuple[str, set[str]]] = [
    ("text Sid that I'm running late", {"get_phone_number", "send_sms"}),
    ("remind me tomorrow at nine to call the bank", {"create_reminder"}),
    ("open my resume", {"open_and_get_file_path"}),
    ("what's Maya's phone number", {"get_phone_number"}),
    ("show me the ferry building on the map", {"maps_open_location"}),
    ("directions to the airport by train", {"maps_show_directions"}),
    ("make a note called parking with level three spot forty", {"create_note"}),
    ("email Sarah Kim the lease agreement", {"get_email_address", "open_and_get_file_path", "compose_new_email"}),
    ("set up a zoom with Priya on Friday at ten", {"get_email_address", "get_zoom_meeting_link"}),
    ("add oat milk to my groceries note", {"append_note_content"}),
    ("remind me to water the plants tonight", {"create_reminder"}),
    ("text Mom that I landed", {"get_phone_number", "send_sms"}),
    ("what's Tom Becker's email", {"get_email_address"}),
    ("summarize the invoice", {"open_and_get_file_path", "summarize_pdf"}),
    ("open my packing list", {"open_note"}),
    ("put lunch with Carlos on my calendar tomorrow at noon", {"create_calendar_event"}),
    ("how do I walk to Dolores Park", {"maps_show_directions"}),
    ("reply to this email saying sounds good", {"reply_to_email"}),
    ("forward this email to Linda", {"get_email_address", "forward_email"}),
    ("remind me on Monday to pay rent", {"create_reminder"}),
    ("send Ryan a text saying the game starts at seven", {"get_phone_number", "send_sms"}),
    ("find the wedding invitation", {"open_and_get_file_path"}),
    ("where is the nearest hardware store", {"maps_open_location"}),
    ("create a note called gift ideas for Dad with a new wallet", {"create_note"}),
    ("schedule a meeting with Kurt on Thursday at three", {"get_email_address", "create_calendar_event"}),
    ("email Amir the TinyAgent paper", {"get_email_address", "open_and_get_file_path", "compose_new_email"}),
    ("text Nicholas I'll call him after lunch", {"get_phone_number", "send_sms"}),
    ("remind me in an hour to check the oven", {"create_reminder"}),
    ("pull up my project plan", {"open_and_get_file_path"}),
    ("get me directions from home to the office by car", {"maps_show_directions"}),
    ("add buy stamps to my standup notes", {"append_note_content"}),
    ("what's Dr Weiss's number", {"get_phone_number"}),
    ("start a zoom meeting with Suhong tomorrow at four", {"get_email_address", "get_zoom_meeting_link"}),
    ("text Linda that the kids are asleep", {"get_phone_number", "send_sms"}),
    ("put the dentist on my calendar next Tuesday at eight", {"create_calendar_event"}),
    ("remind me Friday to submit the expense report", {"create_reminder"}),
    ("show me Golden Gate Park", {"maps_open_location"}),
    ("make a note saying the wifi password is blue heron", {"create_note"}),
    ("email Zoe the team photo", {"get_email_address", "open_and_get_file_path", "compose_new_email"}),
    ("send John a text that I'm outside", {"get_phone_number", "send_sms"}),
]


def _first_word(text: str) -> str:
    words = "".join(c if c.isalnum() or c in " '" else " " for c in text.lower()).split()
    return words[0] if words else ""


def no_pause(voices: tuple[str, ...] = ("piper", "piper adapter-at-run-time", "en-us"),
             n: int = len(NO_PAUSE)) -> dict[str, Any]:
    """Each request said in one breath after "hey jarvis", streamed in real time through the
    listener with early planning: per voice, wakes, first words kept, word error rate, plans
    with the right tools (against the same requests typed, in the same run), and end of
    speech to the first call. "piper beam5": Piper's voice with the pause and final decodes
    searching a beam of 5 (final_beam_size); "piper adapter-at-run-time": planned by the
    adapter applied at run time, not merged into the weights (the default); each against
    the default in the same run."""
    if not speech.available():
        return {"skipped": "espeak-ng and sox are not installed"}
    from services.planner.base import PlanRequest
    from services.planner.llm import LlmPlanner, PlannerSettings
    from services.retrieval.retriever import Retriever
    from shared.plan import parse_plan

    voice = Voice(ListenerSettings())
    planner = LlmPlanner(PlannerSettings(model="qwen-0.5b"))
    at_run_time = (LlmPlanner(PlannerSettings(model="qwen-0.5b", merge_adapter=False))
                   if any(v.endswith(" adapter-at-run-time") for v in voices) else None)
    retriever = Retriever.load()
    retrieve = retriever.tools_and_examples
    cases = NO_PAUSE[:n]
    typed_right = 0
    for text, tools in cases:  # the same requests typed: the baseline for plans from speech
        got = retriever.retrieve(text)
        plan = "".join(planner.stream(PlanRequest(text, NOW, () if got.fallback else got.tools, got.examples)))
        typed_right += {c.tool for c in parse_plan(plan) if not c.is_join} == tools
    out: dict[str, Any] = {"requests": len(cases), "typed_plans_with_the_right_tools": f"{typed_right}/{len(cases)}"}
    beam = voice.settings.final_beam_size
    for label in voices:
        voice_name, _, mode = label.partition(" ")
        voice.settings.final_beam_size = 5 if mode == "beam5" else beam
        refs, hyps, latencies, misses = [], [], [], []
        woke = first_kept = right = 0
        for text, tools in cases:
            pcm = speech.silence(0.4) + speech.say(f"hey jarvis {text}", voice_name) + speech.silence(1.2)
            mac = SimulatedMac(":memory:", paths.default_world())
            planned_by = at_run_time if mode == "adapter-at-run-time" else planner
            report = asyncio.run(listen(frames_of(pcm, realtime=True), voice, planned_by, Executor(mac, Ledger()),
                                        NOW, early=True, retrieve=retrieve))
            woke += any(e.kind == "wake" for e in report.events)
            heard = report.turns[0].transcript if report.turns else ""
            refs.append(text)
            hyps.append(heard)
            kept = _first_word(heard) == _first_word(text)
            first_kept += kept
            if not kept:
                misses.append({"said": text, "heard": heard})
            if report.turns:
                turn = report.turns[0]
                right += {c["tool"] for c in turn.result["calls"]} == tools
                if turn.first_call_after_speech_s is not None:
                    latencies.append(turn.first_call_after_speech_s)
        out[label] = {
            "woke": f"{woke}/{len(cases)}", "first_word_kept": f"{first_kept}/{len(cases)}",
            "word_error_rate": round(_wer(refs, hyps), 4),
            "plans_with_the_right_tools": f"{right}/{len(cases)}",
            "end_of_speech_to_first_call_s_median": round(statistics.median(latencies), 3) if latencies else None,
            "first_word_lost": misses[:10],
        }
    voice.settings.final_beam_size = beam
    return out


def pipeline_early(n: int = 12, voice_name: str = "piper") -> dict[str, Any]:
    """The always-on pipeline (`pippin up --listen`: the listener stage, its audio on the bus):
    requests said in one breath after "hey jarvis" in Piper's voice, streamed in real time,
    with early planning ([listener] early_plan: the words heard at the pause planned ahead)
    and without, each in a pipeline of its own in the same run. End of speech (the last
    voiced frame, by the listener's own endpointer) to the first call the executor starts
    (its trace spans: the monotonic clock the processes share); a lookup the request took
    from the speculative plan counts from when it ran early, as in `pippin listen`."""
    if not speech.available():
        return {"skipped": "espeak-ng and sox are not installed"}
    import time

    from bench.pipeline_bench import running_pipeline
    from pippin.client import PipelineClient, send_audio, supervisorctl
    from services.listener.endpoint import Endpointer
    from shared.runtime.tracing import read_spans

    cases = NO_PAUSE[:n]
    said = [speech.silence(0.4) + speech.say(f"hey jarvis {text}", voice_name) + speech.silence(0.3)
            for text, _ in cases]

    def speech_end(pcm: bytes) -> float:
        endpointer = Endpointer()
        for frame in asyncio.run(_frames(pcm)):
            endpointer.feed(frame)
        return endpointer.last_voiced_t or 0.0

    out: dict[str, Any] = {"requests": len(cases), "voice": voice_name}
    for early in (False, True):
        extra = f'[listener]\nsource = "bus"\nearly_plan = {str(early).lower()}\n'
        latencies: list[float] = []
        right = 0
        heard: list[str] = []
        with running_pipeline('kind = "llm"\nmodel = "qwen-0.5b"', retrieval=True, extra=extra) as config:
            assert supervisorctl(config, "start", "listener").returncode == 0
            client = PipelineClient(config)
            try:
                asyncio.run(client.wait_ready(300, ("listener", "planner", "gateway", "scheduler", "executor")))
            finally:
                client.close()
            asyncio.run(send_audio(config, said[0], realtime=False, wait_s=120))  # warm-up: not measured
            for pcm, (_, tools) in zip(said, cases, strict=True):
                started: list[float] = []
                result = asyncio.run(send_audio(config, pcm, realtime=True, wait_s=120, on_start=started.append))
                if result is None:
                    heard.append("")
                    continue
                heard.append(result["query"])
                right += {c["tool"] for c in result["calls"]} == tools
                time.sleep(1.5)  # spans reach the file with each heartbeat
                assert config.trace_dir is not None
                # A lookup the request took from its speculative plan was dispatched when it ran early.
                took_early = any(c["reused"] for c in result["calls"])
                starts = [s.start for s in read_spans(config.trace_dir) if s.stage == "executor" and s.name == "work"
                          and (s.request_id == result["request_id"]
                               or (took_early and s.request_id.startswith("early-") and s.start >= started[0]))]
                if starts and started:
                    latencies.append(min(starts) - (started[0] + speech_end(pcm)))
            client = PipelineClient(config)
            try:
                stages = asyncio.run(client.status())
            finally:
                client.close()
        label = "early_plan" if early else "final_only"
        out[label] = {"plans_with_the_right_tools": f"{right}/{len(cases)}",
                      "word_error_rate": round(_wer([t for t, _ in cases], heard), 4),
                      "end_of_speech_to_first_call_s_median": round(statistics.median(latencies), 3)
                      if latencies else None,
                      "end_of_speech_to_first_call_s": [round(x, 3) for x in latencies],
                      "heard": heard,
                      "speculative_plans": {k: v for k, v in stages["planner"]["stats"].items() if "specul" in k},
                      "early_plans_taken": stages["gateway"]["stats"].get("early_plans_taken")}
    final_only, early_plan = (out[k]["end_of_speech_to_first_call_s_median"] for k in ("final_only", "early_plan"))
    if final_only and early_plan:
        out["speedup"] = round(final_only / early_plan, 2)
    return out


async def _frames(pcm: bytes) -> list[Any]:
    return [f async for f in frames_of(pcm, realtime=False)]


# For choosing ASR settings only, so that NO_PAUSE stays a set nothing was tuned on: our
# own requests again, other words and people.
ASR_CHOOSING: list[str] = [
    "text Maya that the movie starts at eight",
    "email Linda the budget spreadsheet",
    "remind me at six to take out the trash",
    "what's Ryan's email address",
    "show me the nearest coffee shop",
    "directions to Union Square by bus",
    "make a note called books with Dune and Piranesi",
    "set up a zoom with Sid tomorrow at eleven",
    "send Priya a text saying I'm on my way",
    "add call the plumber to my todo note",
    "remind me next Wednesday to renew my passport",
    "open the tax return",
    "text Carlos happy birthday",
    "email Kurt the slides from Monday",
    "put yoga on my calendar Saturday at nine",
    "summarize the lease agreement",
    "forward this email to Sarah Lopez",
    "reply saying thanks I'll take a look",
    "how far is the airport",
    "what's John's number",
    "remind me in twenty minutes to flip the laundry",
    "text Zoe that practice is cancelled",
    "open my meeting notes",
    "schedule a call with Amir next Monday at two",
    "show me Alcatraz on the map",
    "email Nicholas the photos from the trip",
    "create a reminder to book flights",
    "text Suhong can you send me the link",
    "get directions to Priya's office",
    "make a note saying the garage code is four four one two",
]
# What Whisper is shown as text said before the audio (its previous-text prompt), besides
# the address book's names: requests as a user gives them, so the first word heard after
# "Hey Jarvis," leans to a command.
COMMANDS_SAID_BEFORE = "Text Sid. Email Maya the report. Remind me to call Mom. Show me the map. Open my notes."


def asr_prompts(requests: tuple[str, ...] = ("choosing", "no_pause"), voice_name: str = "piper") -> dict[str, Any]:
    """The listener's transcripts (wake word, look-back, the decode at the end of the turn) of
    requests said in one breath after "hey jarvis", with Whisper's previous text being the
    address book's names (the default) or the names and a few commands: first words kept and
    word error rate per request set. Choose on "choosing"; "no_pause" is the set reported."""
    if not speech.available():
        return {"skipped": "espeak-ng and sox are not installed"}
    import json

    from services.listener.listener import Listener

    voice = Voice(ListenerSettings())
    world = json.loads(paths.default_world().read_text(encoding="utf-8"))
    names = [c["name"] for c in world["contacts"]]
    sets = {"choosing": ASR_CHOOSING, "no_pause": [t for t, _ in NO_PAUSE]}

    async def heard(pcm: bytes) -> str:
        async def nothing(_: Any) -> None:
            return None

        if voice.wake is not None:
            voice.wake.reset()
        events = await Listener(voice.settings, voice.transcriber, voice.wake, nothing).run(
            frames_of(pcm, realtime=False))
        return next((e.text for e in events if e.kind == "final"), "")

    audio = {name: [speech.silence(0.4) + speech.say(f"hey jarvis {t}", voice_name) + speech.silence(1.2)
                    for t in sets[name]] for name in requests}
    out: dict[str, Any] = {"voice": voice_name, "commands_said_before": COMMANDS_SAID_BEFORE}
    for prompt in ("names", "names and commands"):
        voice.transcriber.expect_names(names, also_said="" if prompt == "names" else COMMANDS_SAID_BEFORE)
        for name in requests:
            hyps = [asyncio.run(heard(pcm)) for pcm in audio[name]]
            kept = sum(_first_word(h) == _first_word(t) for t, h in zip(sets[name], hyps, strict=True))
            out[f"{prompt} / {name}"] = {"first_word_kept": f"{kept}/{len(hyps)}",
                                         "word_error_rate": round(_wer(sets[name], hyps), 4),
                                         "first_word_lost": [{"said": t, "heard": h} for t, h in
                                                             zip(sets[name], hyps, strict=True)
                                                             if _first_word(h) != _first_word(t)][:8]}
    voice.transcriber.expect_names(names)
    return out
