"""Real speech for tests and benchmarks: espeak-ng or Piper's neural voice (voice="piper",
en_US-joe-medium, much nearer a person; the same audio on every run) speaks; sox makes it 16 kHz mono 16-bit.

(espeak-ng and sox come from Debian's packages: `make setup` / CI install them; Piper and its
voice from PyPI.)"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from services.listener.audio import RATE

if TYPE_CHECKING:
    from services.speaker.voice import PiperSynth


def available() -> bool:
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


@functools.cache
def _piper() -> PiperSynth:
    from services.speaker.voice import PiperSynth

    # Steady: a test or a benchmark hears the same audio on every run (Piper's default noise
    # made one request "Chome the Golden Gate..." one run in four).
    return PiperSynth(steady=True)


def say(text: str, voice: str = "en-gb", words_per_minute: int = 140) -> bytes:
    """16 kHz mono int16 PCM of `text` spoken by espeak-ng (`voice` one of its voices) or by
    Piper (`voice="piper"`)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.raw"
        if voice == "piper":
            raw.write_bytes(_piper().wav(text))
        else:
            subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(raw), text],
                           check=True, capture_output=True)
        # -D: no dither. sox dithers when it resamples, by random noise of a bit or two, and
        # that alone changed some of Whisper's words from one run of a benchmark to the next.
        subprocess.run(["sox", "-D", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                        "-t", "raw", str(out)], check=True, capture_output=True)
        return out.read_bytes()


def silence(seconds: float) -> bytes:
    return b"\0\0" * int(RATE * seconds)


def utterance(*parts: str | float, voice: str = "en-gb") -> bytes:
    """Speech and pauses in a row: say("hey jarvis"), 0.4 s of silence, the request..."""
    return b"".join(silence(p) if isinstance(p, (int, float)) else say(p, voice) for p in parts)


def write_wav(pcm: bytes, path: Path) -> Path:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return path
