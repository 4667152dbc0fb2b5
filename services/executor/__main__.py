"""The executor stage: runs one call per `execute` message, on the simulated Mac or
through AppleScript, behind the idempotency ledger. Calls run side by side in threads;
the scheduler decides what may overlap.

It also tells the planner which calendars, lists, folders, notes and contacts the Mac has
(`inventory` on the bus), for grounding: when it is ready, when the planner (re)starts,
after a call that makes a note, and every `inventory_refresh_s`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from services.executor.ledger import Backend, Executor, Ledger
from shared import paths, wire
from shared.config import Config
from shared.runtime.bus import Request, Service, run_service, spawn

log = logging.getLogger("pippin.executor")
# Calls after which the Mac's names may have changed (a new note, perhaps a new folder).
CHANGES_INVENTORY = frozenset({"create_note"})


def make_backend(settings: dict[str, object]) -> Backend:
    backend = settings.get("backend", "simulated")
    if backend == "simulated":
        from services.executor.simmac import SimulatedMac

        world = settings.get("world") or paths.default_world()
        latency = {str(k): float(v) for k, v in dict(settings.get("latency_s") or {}).items()}  # type: ignore[call-overload]
        return SimulatedMac(str(settings.get("db") or ":memory:"), Path(str(world)), latency_s=latency)
    if backend == "applescript":
        from services.executor.applescript import AppleScriptMac
        from services.executor.zoom import ZoomClient, ZoomSettings

        return AppleScriptMac(zoom=ZoomClient(ZoomSettings.from_config(settings)),
                              phone_region=str(settings.get("phone_region") or "US"),
                              default_calendar=str(settings.get("default_calendar") or ""))
    raise SystemExit(f"executor: unknown backend {backend!r} (simulated or applescript)")


class ExecutorService(Service):
    name = "executor"

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.executor: Executor | None = None
        self.inventory: wire.MacInventory | None = None
        self.refresh_s = float(config.executor.get("inventory_refresh_s", 300))
        self.stats.update({"inventories": 0})

    def load(self) -> None:
        s = self.config.executor
        self.executor = Executor(make_backend(s), Ledger(str(s.get("ledger") or ":memory:")))

    # ---- the Mac's names, for the planner's grounding -------------------------------------
    async def _publish_inventory(self) -> None:
        if self.inventory is not None:
            await self.publish(self.inventory.event(sender=self.name))
            self.stats["inventories"] += 1

    async def _reread_inventory(self) -> None:
        assert self.executor is not None
        try:
            self.inventory = wire.MacInventory(**await asyncio.to_thread(self.executor.backend.inventory))
        except Exception as e:  # the names stay as they were; planning goes on without new ones
            log.warning("could not read the Mac's names: %s", e)
            self.stats["last_error"] = f"inventory: {e}"[:300]
            return
        await self._publish_inventory()

    async def started(self) -> None:
        # Read after the stage is ready, not while loading: on a real Mac the first read of each
        # app may wait on its permission prompt, and the stage answers calls meanwhile.
        while True:
            await self._reread_inventory()
            await asyncio.sleep(self.refresh_s)

    def on_ready(self, stage: str) -> None:
        if stage in ("planner", "listener"):  # grounding's names; the names Whisper leans to
            spawn(self._publish_inventory())

    async def handle(self, request: Request) -> None:
        if not wire.Execute.is_type(request.msg.type):
            await request.error(f"executor does not take {request.msg.type!r} messages")
            return
        assert self.executor is not None
        call = wire.Execute.from_event(request.msg)
        # Once per (request, call) by the ledger, which outlives a restart of this stage.
        outcome = await asyncio.to_thread(self.executor.execute, request.request_id, call.idx, call.tool,
                                          tuple(call.args), deliver=call.deliver)
        await request.reply(wire.CallOutcome(call.idx, outcome.ok, outcome.value, outcome.replayed))
        if outcome.ok and not outcome.replayed and call.tool in CHANGES_INVENTORY:
            spawn(self._reread_inventory())


if __name__ == "__main__":
    run_service(ExecutorService)
