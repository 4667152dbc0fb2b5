"""Wake word: openWakeWord models from the pyopen-wakeword wheel (TFLite, shipped inside).

"hey jarvis" by default; any built-in model name (alexa, hey_mycroft, hey_rhasspy,
okay_nabu) or a .tflite path works. `none` turns the wake word off (push-to-talk, or
every utterance is a request)."""

from __future__ import annotations

from pathlib import Path


class WakeWord:
    def __init__(self, model: str = "hey_jarvis", threshold: float = 0.5) -> None:
        from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

        try:
            self.detector = OpenWakeWord.from_builtin(Model(model))
        except ValueError:
            if not Path(model).exists():
                raise ValueError(f"unknown wake word model {model!r}: a built-in name "
                                 f"({', '.join(m.value for m in Model)}) or a .tflite file") from None
            self.detector = OpenWakeWord.from_model(model)
        self.features = OpenWakeWordFeatures.from_builtin()
        self.model = model
        self.threshold = threshold
        self.best = 0.0  # the highest score since the last reset, for reports

    def feed(self, pcm: bytes) -> bool:
        """True when the phrase has just been heard in this audio (int16 PCM, 16 kHz)."""
        heard = False
        for features in self.features.process_streaming(pcm):
            for p in self.detector.process_streaming(features):
                self.best = max(self.best, p)
                heard = heard or p >= self.threshold
        return heard

    def reset(self) -> None:
        self.detector.reset()
        self.features.reset()
        self.best = 0.0
