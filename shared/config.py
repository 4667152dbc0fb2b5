"""Configuration: config/pippin.toml (or $PIPPIN_CONFIG) as typed settings, and where
each stage listens."""

from __future__ import annotations

import datetime as dt
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared import paths

# The stages, once. Those a request passes through, in its order; the always-on listener; and
# the processes supervisord runs (the bus forwarder and the watchdog besides the stages).
REQUEST_STAGES = ("gateway", "retrieval", "planner", "scheduler", "executor")
LISTENER = "listener"
SPEAKER = "speaker"  # speaks the answers; with the listener, the voice stages
PROCESSES = ("bus", *REQUEST_STAGES, LISTENER, SPEAKER, "watchdog")
# Every socket a stage binds, in port order (tcp: base_port + its index).
ENDPOINTS = ("bus_in", "bus_out", *REQUEST_STAGES, LISTENER, SPEAKER)


@dataclass
class Config:
    run_dir: Path
    transport: str = "ipc"
    host: str = "127.0.0.1"
    base_port: int = 5550
    curve: bool = False
    keys_dir: Path = Path("run/keys")
    endpoints: dict[str, str] = field(default_factory=dict)
    planner: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] = field(default_factory=dict)
    executor: dict[str, Any] = field(default_factory=dict)
    gateway: dict[str, Any] = field(default_factory=dict)
    watchdog: dict[str, Any] = field(default_factory=dict)
    retrieval: dict[str, Any] = field(default_factory=dict)
    listener: dict[str, Any] = field(default_factory=dict)
    speaker: dict[str, Any] = field(default_factory=dict)
    tracing: dict[str, Any] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    source: Path | None = None

    def endpoint(self, stage: str) -> str:
        """Where `stage` listens, as peers connect to it."""
        if stage not in ENDPOINTS:
            raise KeyError(f"unknown stage {stage!r}; stages: {', '.join(ENDPOINTS)}")
        if stage in self.endpoints:
            return self.endpoints[stage]
        if self.transport == "tcp":
            return f"tcp://{self.host}:{self.base_port + ENDPOINTS.index(stage)}"
        return f"ipc://{self.run_dir / (stage + '.sock')}"

    @property
    def trace_dir(self) -> Path | None:
        """Where stages append their spans ([tracing] file = false: nowhere, ring only)."""
        return self.run_dir / "trace" if self.tracing.get("file", True) else None

    def simulated_world(self) -> Path | None:
        """The simulated Mac's world file; None on a real Mac."""
        if self.executor.get("backend", "simulated") != "simulated":
            return None
        return Path(self.executor.get("world") or paths.default_world())

    def request_now(self) -> str:
        """The moment requests resolve relative dates against: the simulated Mac's clock
        (its world's "now") or, on a real Mac, the local time."""
        world = self.simulated_world()
        if world is not None:
            return str(json.loads(world.read_text(encoding="utf-8"))["now"])
        return dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")

    def bind_endpoint(self, stage: str) -> str:
        """What `stage` binds: tcp on all interfaces, so peers on other Macs reach it."""
        ep = self.endpoint(stage)
        if ep.startswith("tcp://"):
            return "tcp://*:" + ep.rsplit(":", 1)[1]
        return ep


def _expand(value: str, run_dir: Path) -> str:
    return value.replace("{run}", str(run_dir))


def load(path: str | Path | None = None, run_dir: str | Path | None = None) -> Config:
    path = Path(path or os.environ.get("PIPPIN_CONFIG") or paths.CONFIG_DIR / "pippin.toml")
    run = Path(run_dir or os.environ.get("PIPPIN_RUN") or paths.RUN_DIR).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"pippin: no configuration at {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise SystemExit(f"pippin: {path} is not valid TOML: {e}") from None
    bus = data.get("bus", {})
    sec = data.get("security", {})

    def section(name: str) -> dict[str, Any]:
        return {k: _expand(v, run) if isinstance(v, str) else v for k, v in data.get(name, {}).items()}

    return Config(
        run_dir=run,
        transport=bus.get("transport", "ipc"),
        host=bus.get("host", "127.0.0.1"),
        base_port=int(bus.get("base_port", 5550)),
        curve=bool(sec.get("curve", False)),
        keys_dir=Path(_expand(sec.get("keys_dir", "{run}/keys"), run)),
        endpoints=section("endpoints"),
        planner=section("planner"),
        scheduler=section("scheduler"),
        executor=section("executor"),
        gateway=section("gateway"),
        watchdog=section("watchdog"),
        retrieval=section("retrieval"),
        listener=section("listener"),
        speaker=section("speaker"),
        tracing=section("tracing"),
        commands={k: v for k, v in section("commands").items() if v},
        source=path,
    )
