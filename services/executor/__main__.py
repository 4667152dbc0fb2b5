"""The executor stage: runs one call per `execute` message, on the simulated Mac or
through AppleScript, behind the idempotency ledger. Calls run side by side in threads;
the scheduler decides what may overlap.

It also tells the planner which calendars, lists, folders, notes and contacts the Mac has
(`inventory` on the bus), for grounding: when it is ready, when the planner (re)starts,
after a call that makes a note, and every `inventory_refresh_s`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.executor.ledger import Backend, Executor, Ledger
from shared import paths, wire
from shared.config import Config
from shared.runtime.bus import Request, Service, run_service, spawn

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
        self.inventory = wire.MacInventory(**self.executor.backend.inventory())

    # ---- the Mac's names, for the planner's grounding -------------------------------------
    async def _publish_inventory(self) -> None:
        if self.inventory is not None:
            await self.publish(self.inventory.event(sender=self.name))
            self.stats["inventories"] += 1

    async def _reread_inventory(self) -> None:
        assert self.executor is not None
        self.inventory = wire.MacInventory(**await asyncio.to_thread(self.executor.backend.inventory))
        await self._publish_inventory()

    async def started(self) -> None:
        await self._publish_inventory()
        while True:
            await asyncio.sleep(self.refresh_s)
            await self._reread_inventory()

    def on_ready(self, stage: str) -> None:
        if stage == "planner":
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
