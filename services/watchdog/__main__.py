"""The watchdog: restarts a stage whose heartbeats stop while supervisord still thinks
it runs (a hung process; a dead one supervisord restarts by itself), or whose heartbeat
says a loop of it has ended (`broken`). Stages still loading their model get a grace period."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import xmlrpc.client

from supervisor.xmlrpc import SupervisorTransport

from shared import config as config_mod
from shared import wire
from shared.runtime.bus import BadInput, Bus, news, spawn, topic

WATCHED = (*config_mod.REQUEST_STAGES, config_mod.LISTENER, config_mod.SPEAKER)
log = logging.getLogger("pippin.watchdog")


def supervisor(run_dir: str) -> xmlrpc.client.ServerProxy:
    transport = SupervisorTransport(None, None, f"unix://{run_dir}/supervisor.sock")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


async def watch() -> None:
    config = config_mod.load()
    timeout = float(config.watchdog.get("heartbeat_timeout_s", 20))
    grace = float(config.watchdog.get("startup_grace_s", 120))
    bus = Bus(config, "watchdog")
    sub = bus.subscriber(topic(wire.Heartbeat))
    last: dict[str, float] = {}
    broken: dict[str, str] = {}
    rpc = supervisor(str(config.run_dir))

    async def listen() -> None:
        async for _, msg in news(sub, BadInput("watchdog bus news")):
            last[msg.sender] = time.time()
            why = wire.Heartbeat.from_event(msg).stats.get("broken")
            if isinstance(why, str) and why:
                broken[msg.sender] = why
            else:  # the latest heartbeat decides: a restarted stage's first one clears it
                broken.pop(msg.sender, None)

    spawn(listen())
    while True:
        await asyncio.sleep(timeout / 4)
        try:
            infos = await asyncio.to_thread(rpc.supervisor.getAllProcessInfo)
        except (OSError, xmlrpc.client.Error) as e:
            log.warning("cannot reach supervisord: %s", e)
            continue
        now = time.time()
        for info in infos:
            name = info["name"]
            if name not in WATCHED or info["statename"] != "RUNNING":
                continue
            up_for = now - info["start"]
            age = now - max(last.get(name, 0.0), info["start"])
            why = broken.pop(name, "")
            if why or (up_for > grace and age > timeout):
                log.warning("%s: %s; restarting it", name, why or f"no heartbeat for {age:.0f} s")
                try:
                    await asyncio.to_thread(rpc.supervisor.stopProcess, name)
                    await asyncio.to_thread(rpc.supervisor.startProcess, name)
                except xmlrpc.client.Fault as e:
                    log.warning("restart of %s failed: %s", name, e)
                last[name] = time.time()


def main() -> None:
    logging.basicConfig(level=os.environ.get("PIPPIN_LOG", "INFO"), format="%(asctime)s watchdog %(message)s")
    asyncio.run(watch())


if __name__ == "__main__":
    main()
