"""The listener's state machine: wake word -> utterance -> partial and final transcripts.

    idle --wake phrase--> armed --speech--> speaking --silence--> final, back to idle

With the wake word off ("none"), every utterance is a request (push-to-talk feeds audio
only while the key is down). While the user speaks the utterance is decoded again every
`partial_every_s` (one decode at a time; a frame never waits for a decode), and at the
first silent frame the whole utterance is decoded at once: if the silence then lasts
(the end of the turn), that decode is the final transcript, so the turn's end costs no
second decode. Events carry audio time (from the stream's start) and wall time.

While a request heard is still being planned and run (`busy()`), listening for the wake
phrase waits: its frames are kept, in order, and heard once the request is done (or
once `max_deferred_s` of them pile up). On 2 cores the wake model's threads would
otherwise take turns with the planner's, and llama.cpp's threads wait on the slowest
(measured, one run: ~39 ms a token with the wake word waiting, ~43 ms beside it; the
first call 0.3-0.4 s sooner). Nothing is lost: the
wake phrase is heard a little later, and what follows it is transcribed as usual."""

from __future__ import annotations

import asyncio
import collections
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.listener.asr import Decode, Transcriber, stable_prefix
from services.listener.audio import FRAME_MS, Frame
from services.listener.endpoint import Endpointer, EndpointSettings
from services.listener.wake import WakeWord
from shared.matching import sounds_like


@dataclass
class ListenerSettings:
    wake_word: str = "hey_jarvis"  # a built-in openWakeWord model, a .tflite path, or "none"
    wake_threshold: float = 0.5
    asr_model: str = "base"
    asr_window_s: float = 10.0  # Whisper's encoder window for utterances shorter than it (30: Whisper's own)
    partial_every_s: float = 0.6
    # Beam search for the transcripts a plan is made from (at the pause and the end); partials,
    # many and only for warming, stay greedy. 5 measured: ~1 point less word error rate, ~0.1 s
    # more to the first call (README, Voice), so greedy stays the default.
    final_beam_size: int = 1
    max_deferred_s: float = 10.0  # the most audio kept unheard while a request is busy
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)


@dataclass(frozen=True)
class Event:
    kind: str  # wake | speech | partial | pause | final | no_speech
    t_audio: float
    t_wall: float
    text: str = ""
    stable: str = ""
    decode_s: float = 0.0


EventFn = Callable[[Event], Awaitable[None]]
RECENT_S = 2.0  # audio kept while idle, for the look-back at the wake word
WAKE_TAIL_S = 0.1  # voice up to this long after the wake word fired may still be the phrase itself
WAKE_GAP_S = 0.3  # a silence this long before the wake phrase is where it began
PREROLL_S = 0.1  # kept before that point, so its first sound is whole
WAKE_NAME_SIMILARITY = 60  # rapidfuzz ratio: 'jardus' and 'jardis' are 'jarvis' (67, 83); 'text' is not (20)


def wake_phrase_words(wake_word: str) -> list[str]:
    """The words of a wake model's name: "hey_jarvis" and "hey_jarvis_v0.1.tflite" -> hey, jarvis."""
    if wake_word == "none":
        return []
    return [w for w in re.split(r"[_\s]+", Path(wake_word).stem.lower()) if w and not re.fullmatch(r"v\d[\d.]*", w)]


def wake_phrase_text(wake_word: str) -> str:
    """The wake phrase as a transcript would open with it: "Hey Jarvis," ("" for none)."""
    words = wake_phrase_words(wake_word)
    return " ".join(w.capitalize() for w in words) + "," if words else ""


def strip_wake_phrase(text: str, wake_word: str) -> str:
    """The transcript without the wake phrase it may begin with: "Hey Jarvis, text Sid" and
    "Jarvis. Text Sid" are "text Sid"; the phrase alone is "" (nothing was asked). Whisper
    hears the name as it sounds ("Hey, Jardis", "Jervis"): after a greeting, a word close to
    the name in spelling or in sound is the name; on its own, only the name or its sound."""
    words = wake_phrase_words(wake_word)
    if not words:
        return text
    name = words[-1]
    greetings = {*words[:-1], "hi", "hey", "okay", "ok", "a"}
    greeted = False
    for word in re.finditer(r"\w+", text):
        said = word.group().lower()
        # After a greeting, a close spelling will do; alone, only the name's sound.
        if said == name or sounds_like(said, name, min_ratio=WAKE_NAME_SIMILARITY if greeted else 100,
                                       same_first_letter=False):
            return re.sub(r"^\W*", "", text[word.end():])
        if said not in greetings:
            return text
        greeted = True
    return text


class Listener:
    def __init__(self, settings: ListenerSettings, transcriber: Transcriber, wake: WakeWord | None,
                 on_event: EventFn, busy: Callable[[], bool] | None = None) -> None:
        self.s = settings
        self.busy = busy
        self.asr = transcriber
        self.wake = wake
        self.on_event = on_event
        self.endpointer = Endpointer(settings.endpoint)
        self.events: list[Event] = []
        self._decoding = asyncio.Lock()
        self._pause_decode: tuple[int, asyncio.Task[Decode]] | None = None
        self._last_partial = ""
        self._armed_at = 0.0
        # The utterance's audio opens with the wake phrase (heard again from its onset): its
        # decodes are told so (Transcriber.decode's said_first).
        self._opens_with_wake = False
        self.state = "armed" if wake is None else "idle"
        self.deferred: collections.deque[Frame] = collections.deque()
        self.recent: collections.deque[Frame] = collections.deque(maxlen=int(RECENT_S * 1000 / FRAME_MS))
        self.most_deferred_s = 0.0  # for reports: the longest the wake word waited

    async def _frames(self, frames: AsyncIterator[Frame]) -> AsyncIterator[Frame]:
        """The frames to handle now, in order: while idle and busy, they wait."""
        limit = int(self.s.max_deferred_s * 1000 / FRAME_MS)
        async for frame in frames:
            if self.state == "idle" and self.busy is not None and self.busy() and len(self.deferred) < limit:
                self.deferred.append(frame)
                self.most_deferred_s = max(self.most_deferred_s, len(self.deferred) * FRAME_MS / 1000)
                continue
            while self.deferred:
                yield self.deferred.popleft()
                if len(self.deferred) % 25 == 0:
                    await asyncio.sleep(0)  # catching up: let the rest of the loop run
            yield frame
        # The stream ended: what is left waits for the request all the same, for as long.
        give_up = time.perf_counter() + self.s.max_deferred_s
        while self.busy is not None and self.busy() and self.deferred and time.perf_counter() < give_up:
            await asyncio.sleep(0.02)
        while self.deferred:
            yield self.deferred.popleft()

    async def _emit(self, kind: str, t_audio: float, **kw: object) -> None:
        for key in ("text", "stable"):
            if isinstance(kw.get(key), str):
                kw[key] = strip_wake_phrase(str(kw[key]), self.s.wake_word)
        event = Event(kind, round(t_audio, 3), time.perf_counter(), **kw)  # type: ignore[arg-type]
        self.events.append(event)
        await self.on_event(event)

    async def run(self, frames: AsyncIterator[Frame]) -> list[Event]:
        tasks: set[asyncio.Task[None]] = set()
        last_partial_t = 0.0
        replay: collections.deque[Frame] = collections.deque()

        async def incoming() -> AsyncIterator[Frame]:
            async for f in self._frames(frames):
                yield f
                while replay:  # the look-back at a wake word, before the next frame
                    yield replay.popleft()

        async for frame in incoming():
            if self.state == "idle":
                assert self.wake is not None
                self.recent.append(frame)
                if self.wake.feed(frame.pcm):
                    self.state, self._armed_at = "armed", frame.t
                    self.endpointer.reset()
                    await self._emit("wake", frame.t)
                    # The request may have begun while the wake model listened: hear it again,
                    # from where the wake phrase began (see _wake_onset).
                    onset = self._wake_onset()
                    replay.extend(f for f in self.recent if f.t > onset)
                    self.recent.clear()
                    self._opens_with_wake = True
                continue
            mark = self.endpointer.feed(frame)
            if self.state == "armed":
                if mark == "start":
                    self.state, last_partial_t, self._last_partial = "speaking", frame.t, ""
                    await self._emit("speech", frame.t)
                elif self.wake is not None and frame.t - self._armed_at > self.s.endpoint.no_speech_timeout_s:
                    await self._emit("no_speech", frame.t)
                    self._back_to_idle()
                continue
            # speaking
            if mark in ("pause", "end") and (self.endpointer.last_voiced_t or 0.0) <= self._armed_at + WAKE_TAIL_S:
                # All that was heard is the wake phrase's own tail, from the look-back: the
                # user paused after it. Wait for the request itself.
                for t in list(tasks):
                    t.cancel()
                if self._pause_decode is not None:
                    self._pause_decode[1].cancel()
                self._pause_decode = None
                self.endpointer.reset()
                self.state = "armed"
                self._opens_with_wake = False  # what comes next is the request alone
                continue
            if mark == "end":
                for t in list(tasks):
                    t.cancel()
                await self._final()
                self._back_to_idle()
                continue
            if mark == "pause":
                if self._pause_decode is not None:
                    self._pause_decode[1].cancel()  # speech came after that pause
                pcm = self.endpointer.audio()
                task = asyncio.create_task(self._pause(pcm, frame.t))
                self._pause_decode = (len(pcm), task)
            elif (frame.t - last_partial_t >= self.s.partial_every_s and not self._decoding.locked()
                  and self.endpointer.silence_run == 0):  # in a silence the pause decode has it all
                last_partial_t = frame.t
                task = asyncio.create_task(self._partial(self.endpointer.audio(), frame.t))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        if self.state == "speaking":  # the stream ended mid-utterance: that is the end of the turn
            await self._final()
        return self.events

    def _wake_onset(self) -> float:
        """Where the voice that held the wake phrase began, in audio time (a frame's start).

        openWakeWord fires 0.0-0.25 s after the phrase ends (measured on Piper's and espeak-ng's
        voices) and people do not pause after it, so the request's first words were said while
        it listened. Hearing again only the last moments gives Whisper the phrase's tail
        ("...vis"), which it turns into words ("of his", "the service"); from the phrase's start
        it hears "Hey Jarvis, open my resume", and the phrase comes off the transcript
        (strip_wake_phrase). The voice is followed back over gaps shorter than WAKE_GAP_S."""
        from services.listener.audio import RATE

        frames = list(self.recent)
        onset = frames[-1].t if frames else 0.0
        gap, heard = 0.0, False
        for f in reversed(frames):
            if self.endpointer.vad.is_speech(f.pcm, RATE):
                onset, gap, heard = f.t - FRAME_MS / 1000, 0.0, True
            elif heard:
                gap += FRAME_MS / 1000
                if gap >= WAKE_GAP_S:
                    break
        return onset - PREROLL_S

    def _back_to_idle(self) -> None:
        self.endpointer.reset()
        self._opens_with_wake = False
        self._pause_decode = None
        if self.wake is not None:
            self.wake.reset()
            self.state = "idle"
        else:
            self.state = "armed"

    async def _decode(self, pcm: bytes, beam_size: int = 1) -> Decode:
        said_first = wake_phrase_text(self.s.wake_word) if self._opens_with_wake else ""
        async with self._decoding:
            return await asyncio.to_thread(self.asr.decode, pcm, said_first, beam_size)

    async def _pause(self, pcm: bytes, t_audio: float) -> Decode:
        """The whole utterance at the first silent frame: likely the final transcript, so
        early planning may start from all of it ("pause" event)."""
        got = await self._decode(pcm, self.s.final_beam_size)
        await self._emit("pause", t_audio, text=got.text, stable=got.text, decode_s=round(got.seconds, 3))
        return got

    async def _partial(self, pcm: bytes, t_audio: float) -> None:
        got = await self._decode(pcm)
        if self._pause_decode is not None and self._pause_decode[0] > len(pcm):
            # A pause came while this decoded: its decode has all this audio and more, and
            # warming the planner with these words now would only slow it down.
            return
        stable = stable_prefix(self._last_partial, got.text)
        self._last_partial = got.text
        await self._emit("partial", t_audio, text=got.text, stable=stable, decode_s=round(got.seconds, 3))

    async def _final(self) -> None:
        last_voiced = self.endpointer.last_voiced_t or 0.0
        # Up to the first silent frame: exactly the audio the pause decode had.
        pcm = self.endpointer.audio(until_t=last_voiced + FRAME_MS / 1000)
        got: Decode | None = None
        if self._pause_decode is not None:
            n, task = self._pause_decode
            # The decode started at the first silent frame covers the utterance when no
            # speech came after it (its audio is at least what we would decode now).
            if n >= len(pcm):
                got = await task
            else:
                task.cancel()
        if got is None:
            got = await self._decode(pcm, self.s.final_beam_size)
        await self._emit("final", last_voiced, text=got.text, stable=got.text, decode_s=round(got.seconds, 3))


class Voice:
    """The models a listener needs, loaded once (a benchmark runs many files through them)."""

    def __init__(self, settings: ListenerSettings) -> None:
        self.settings = settings
        self.transcriber = Transcriber(settings.asr_model, window_s=settings.asr_window_s)
        self.wake = None if settings.wake_word == "none" else WakeWord(settings.wake_word, settings.wake_threshold)
