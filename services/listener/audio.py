"""Audio in: 16 kHz mono 16-bit PCM, as numbered frames of FRAME_MS.

Sources: a WAV file (any rate/width/channels is converted with the standard library's
audioop-free path: it must already be 16 kHz mono 16-bit; `sox in.wav -r 16000 -c 1 -b 16
out.wav` makes it so), raw PCM on stdin, or the microphone through sounddevice (optional:
machines without audio need not install it). File and stdin sources stream either in
real time (paced as a microphone would deliver) or as fast as they can be read."""

from __future__ import annotations

import asyncio
import sys
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

RATE = 16000
FRAME_MS = 30  # webrtcvad takes 10, 20 or 30 ms frames
FRAME_SAMPLES = RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2


@dataclass(frozen=True)
class Frame:
    seq: int
    pcm: bytes  # FRAME_BYTES of int16 little-endian

    @property
    def t(self) -> float:
        """Audio time at the frame's end, seconds from the start of the stream."""
        return (self.seq + 1) * FRAME_MS / 1000


class AudioFormatError(ValueError):
    pass


def read_wav(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise AudioFormatError(f"{path}: need 16 kHz mono 16-bit PCM, got {w.getframerate()} Hz, "
                                   f"{w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit "
                                   f"(convert: sox IN -r 16000 -c 1 -b 16 OUT.wav)")
        return w.readframes(w.getnframes())


async def frames_of(pcm: bytes, *, realtime: bool) -> AsyncIterator[Frame]:
    """PCM bytes as frames (the last one padded with silence), paced in real time or not."""
    t0 = time.monotonic()
    n = (len(pcm) + FRAME_BYTES - 1) // FRAME_BYTES
    for seq in range(n):
        chunk = pcm[seq * FRAME_BYTES:(seq + 1) * FRAME_BYTES]
        frame = Frame(seq, chunk.ljust(FRAME_BYTES, b"\0"))
        if realtime:
            delay = t0 + frame.t - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        elif seq % 50 == 0:
            await asyncio.sleep(0)  # let the ASR and planner tasks run
        yield frame


async def stdin_frames(*, realtime: bool) -> AsyncIterator[Frame]:
    data = await asyncio.to_thread(sys.stdin.buffer.read)
    async for f in frames_of(data, realtime=realtime):
        yield f


async def microphone_frames() -> AsyncIterator[Frame]:
    try:
        import sounddevice
    except (ImportError, OSError) as e:
        raise RuntimeError("the microphone needs sounddevice (pip install sounddevice) and an audio "
                           f"device: {e}") from None
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    def callback(indata: bytes, frames: int, t: object, status: object) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, bytes(indata))

    with sounddevice.RawInputStream(samplerate=RATE, channels=1, dtype="int16", blocksize=FRAME_SAMPLES,
                                    callback=callback):
        seq = 0
        while True:
            yield Frame(seq, await queue.get())
            seq += 1
