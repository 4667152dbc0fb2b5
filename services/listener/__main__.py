"""The listener stage: the pipeline's first stage, always listening.

Audio comes from the microphone ([listener] source = "microphone") or from the bus
(source = "bus": `audio` messages with sequence numbers, as `pippin listen --wav FILE
--pipeline` publishes them). After the wake phrase it transcribes the request as it is
spoken, publishes each partial and the final transcript on the bus (topic
"transcript"), sends the final one to the gateway as an `ask`, and publishes the result
(topic "answer"). Audio frames that arrive out of order or twice are dropped by their
sequence number; a gap is filled with silence so the audio clock stays true. Each
sender's stream (`stream`) is numbered from 0 and follows the last one on that clock."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator

from services.listener.audio import FRAME_BYTES, Frame, microphone_frames
from services.listener.listener import Event, Listener, ListenerSettings
from shared import wire
from shared.config import Config
from shared.runtime.bus import Service, StageError, run_service, spawn, topic
from shared.wire import Message, new_id

log = logging.getLogger("pippin.listener")


class ListenerService(Service):
    name = "listener"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        s = config.listener
        self.source = str(s.get("source", "microphone"))
        self.settings = ListenerSettings(wake_word=str(s.get("wake_word", "hey_jarvis")),
                                         wake_threshold=float(s.get("wake_threshold", 0.5)),
                                         asr_model=str(s.get("asr_model", "base")),
                                         asr_window_s=float(s.get("asr_window_s", 10.0)),
                                         partial_every_s=float(s.get("partial_every_s", 0.6)),
                                         final_beam_size=int(s.get("final_beam_size", 1)),
                                         max_deferred_s=float(s.get("max_deferred_s", 10.0)))
        self.settings.endpoint.silence_ms = int(s.get("silence_ms", self.settings.endpoint.silence_ms))
        self.settings.endpoint.max_utterance_s = float(s.get("max_utterance_s", self.settings.endpoint.max_utterance_s))
        self.gateway = self.requester("gateway", terminal={"result"})
        # Voice requests use the static prompt: the planner warms it with the words so far.
        self.plan_layout = str(s.get("plan_layout", "grammar"))
        self.audio: asyncio.Queue[Frame | None] = asyncio.Queue(maxsize=2000)
        self.next_seq = 0  # on the listener's audio clock
        self.stream: str | None = None  # the stream being heard, and where its frame 0 falls on that clock
        self.stream_start = 0
        self.streams_ended: collections.deque[str] = collections.deque(maxlen=64)
        self.asking = 0  # requests heard and not answered yet: the wake word waits for them
        self.names: list[str] | None = None  # the Mac's contacts, once known
        self.stats.update({"frames": 0, "frames_dropped": 0, "wakes": 0, "turns": 0})

    def load(self) -> None:
        import json

        from services.listener.listener import Voice

        self.voice = Voice(self.settings)
        world = self.config.simulated_world()
        if self.names is None and world is not None:  # until the executor's inventory comes
            contacts = json.loads(world.read_text(encoding="utf-8")).get("contacts", [])
            self.names = [c["name"] for c in contacts if isinstance(c, dict) and isinstance(c.get("name"), str)]
        self._expect_names()

    def _expect_names(self) -> None:
        """The address book's names, for Whisper to lean to (Transcriber.expect_names)."""
        if self.names is not None and hasattr(self, "voice"):
            self.voice.transcriber.expect_names(self.names)
            self.stats["names_expected"] = len(self.voice.transcriber.names_expected)

    def extra_topics(self) -> tuple[bytes, ...]:
        return (topic(wire.MacInventory), topic(wire.Audio)) if self.source == "bus" else (topic(wire.MacInventory),)

    def on_bus(self, msg: Message) -> None:
        if wire.MacInventory.is_type(msg.type):
            names = wire.MacInventory.from_event(msg).contacts
            if not all(isinstance(n, str) for n in names):
                raise ValueError("inventory: contacts must be names (text)")
            self.names = list(names)
            self._expect_names()
            return
        if not wire.Audio.is_type(msg.type):
            return
        audio = wire.Audio.from_event(msg)
        if audio.stream != self.stream:
            if audio.stream in self.streams_ended:  # a late frame of a stream already followed by another
                self.stats["frames_dropped"] += 1
                return
            if self.stream is not None:  # a new sender: its frame 0 follows the last frame heard
                self.streams_ended.append(self.stream)
            self.stream, self.stream_start = audio.stream, self.next_seq - audio.seq
        seq, pcm = self.stream_start + audio.seq, audio.pcm
        if audio.rate != 16000 or len(pcm) != FRAME_BYTES or seq < self.next_seq:
            self.stats["frames_dropped"] += 1
            return
        while self.next_seq < seq:  # lost frames: silence keeps the audio clock right
            self._put(Frame(self.next_seq, b"\0" * FRAME_BYTES))
        self._put(Frame(seq, pcm))

    def _put(self, frame: Frame) -> None:
        try:
            self.audio.put_nowait(frame)
            self.next_seq = frame.seq + 1
            self.stats["frames"] += 1
        except asyncio.QueueFull:  # the listener fell behind: drop rather than grow without bound
            self.stats["frames_dropped"] += 1
            self.next_seq = frame.seq + 1

    async def frames(self) -> AsyncIterator[Frame]:
        if self.source == "microphone":
            async for f in microphone_frames():
                self.stats["frames"] += 1
                yield f
            return
        while (frame := await self.audio.get()) is not None:
            yield frame

    async def on_event(self, e: Event) -> None:
        if e.kind == "wake":
            self.stats["wakes"] += 1
            await self.publish(wire.Wake(e.t_audio).event(sender=self.name))  # the speaker stops: barge-in
        if e.kind in ("speech", "partial", "pause", "final"):  # "speech": nothing heard yet
            # A pause's words are likely the request: the gateway has them planned ahead (early_plan).
            heard = wire.Transcript(e.text, e.kind == "final", e.stable, pause=e.kind == "pause")
            await self.publish(heard.event(sender=self.name))
        if e.kind == "final" and e.text.strip():
            self.stats["turns"] += 1
            spawn(self.ask(e.text))

    async def ask(self, text: str) -> None:
        rid = new_id()
        self.asking += 1
        try:
            ask = wire.Ask(text, layout=self.plan_layout).event(rid, new_id(), self.name)
            result = await self.gateway.call(ask, timeout_s=300)
            await self.publish(result.reply(wire.Result.from_event(result), self.name))
        except StageError as e:
            log.warning("request %r failed: %s", text, e)
            self.stats["last_error"] = str(e)[:300]
        finally:
            self.asking -= 1

    async def main(self) -> None:
        async def listen_forever() -> None:
            while not self.ready:
                await asyncio.sleep(0.1)
            while True:
                listener = Listener(self.settings, self.voice.transcriber, self.voice.wake, self.on_event,
                                    busy=lambda: self.asking > 0)
                try:
                    await listener.run(self.frames())
                except Exception as e:  # a broken microphone: say so, try again
                    log.exception("listening failed")
                    self.stats["last_error"] = f"listening failed: {e}"[:300]
                    await asyncio.sleep(2)

        spawn(listen_forever())
        await super().main()


if __name__ == "__main__":
    run_service(ListenerService)
