"""The speaker stage: Pippin answers out loud.

It hears each request's `result` on the bus and speaks its answer (services/speaker/voice.py:
Piper's voice, or `say` on a Mac). It says when it starts and stops (`speaking` news), and
the wake word stops it at once (`wake` news from the listener: barge-in), so the user can
cut in and Pippin's own voice never runs on under the next request."""

from __future__ import annotations

import asyncio
import logging

from services.speaker.voice import Speaker, spoken_text
from shared import wire
from shared.config import Config
from shared.runtime.bus import Request, Service, run_service, spawn, topic
from shared.wire import Message

log = logging.getLogger("pippin.speaker")
class SpeakerService(Service):
    name = "speaker"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        s = config.speaker
        self.engine, self.sink = str(s.get("engine", "auto")), str(s.get("sink", "auto"))
        self.speaker: Speaker | None = None
        self._speaking: asyncio.Task[None] | None = None
        self.stats.update({"spoken": 0, "interrupted": 0})

    def load(self) -> None:
        self.speaker = Speaker(self.engine, self.sink)

    def extra_topics(self) -> tuple[bytes, ...]:
        return (topic(wire.Result), topic(wire.Wake))

    def on_bus(self, msg: Message) -> None:
        if wire.Wake.is_type(msg.type):
            self._stop()
        elif wire.Result.is_type(msg.type):
            text = spoken_text(wire.Result.from_event(msg).answer)
            if text:
                self._stop()  # a new answer replaces one still being said
                self._speaking = spawn(self._say(text, msg.request_id))

    def _stop(self) -> None:
        if self._speaking is not None and not self._speaking.done():
            self._speaking.cancel()

    async def _say(self, text: str, request_id: str) -> None:
        assert self.speaker is not None

        async def started() -> None:
            await self.publish(wire.Speaking(True, text, False).event(request_id, sender=self.name))

        try:
            await self.speaker.speak(text, started)
            self.stats["spoken"] += 1
            await self.publish(wire.Speaking(False, text, False).event(request_id, sender=self.name))
        except asyncio.CancelledError:
            self.stats["interrupted"] += 1
            await self.publish(wire.Speaking(False, text, True).event(request_id, sender=self.name))
        except Exception as e:  # a player that fails is reported; the stage goes on
            log.warning("could not speak: %s", e)
            self.stats["last_error"] = f"could not speak: {e}"[:300]
            await self.publish(wire.Speaking(False, text, False).event(request_id, sender=self.name))

    async def handle(self, request: Request) -> None:  # the speaker takes no requests, only news
        await request.error(f"the speaker takes no requests ({request.msg.type!r}); it speaks the answers on the bus")


if __name__ == "__main__":
    run_service(SpeakerService)
