"""Endpointing: when an utterance starts and ends, by webrtcvad over 30 ms frames.

Speech starts after `start_frames` voiced frames in a row (the `preroll_ms` before are
kept, so the first syllable is not cut); it ends after `silence_ms` of unvoiced audio or
at `max_utterance_s`."""

from __future__ import annotations

import collections
from dataclasses import dataclass

from services.listener.audio import FRAME_MS, RATE, Frame


@dataclass
class EndpointSettings:
    aggressiveness: int = 2  # webrtcvad 0..3
    silence_ms: int = 600
    preroll_ms: int = 300
    start_frames: int = 3
    max_utterance_s: float = 15.0
    no_speech_timeout_s: float = 5.0  # after a wake word, give up if nobody speaks


class Endpointer:
    def __init__(self, settings: EndpointSettings | None = None) -> None:
        import webrtcvad

        self.s = settings or EndpointSettings()
        self.vad = webrtcvad.Vad(self.s.aggressiveness)
        self.preroll: collections.deque[Frame] = collections.deque(maxlen=max(1, self.s.preroll_ms // FRAME_MS))
        self.reset()

    def reset(self) -> None:
        self.in_speech = False
        self.voiced_run = 0
        self.silence_run = 0
        self.frames: list[Frame] = []
        self.last_voiced_t: float | None = None
        self.preroll.clear()

    def feed(self, frame: Frame) -> str | None:
        """"start", "pause" (the first unvoiced frame after speech), "end", or None."""
        voiced = self.vad.is_speech(frame.pcm, RATE)
        if not self.in_speech:
            self.preroll.append(frame)
            self.voiced_run = self.voiced_run + 1 if voiced else 0
            if self.voiced_run >= self.s.start_frames:
                self.in_speech = True
                self.frames = list(self.preroll)
                self.last_voiced_t = frame.t
                self.silence_run = 0
                return "start"
            return None
        self.frames.append(frame)
        if voiced:
            self.silence_run = 0
            self.last_voiced_t = frame.t
        else:
            self.silence_run += 1
        duration = len(self.frames) * FRAME_MS / 1000
        if self.silence_run * FRAME_MS >= self.s.silence_ms or duration >= self.s.max_utterance_s:
            return "end"
        return "pause" if self.silence_run == 1 else None

    def audio(self, until_t: float | None = None) -> bytes:
        """The utterance's PCM so far (up to audio time `until_t`)."""
        return b"".join(f.pcm for f in self.frames if until_t is None or f.t <= until_t + 1e-9)
