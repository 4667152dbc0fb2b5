from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.executor.simmac import SimulatedMac
from shared import paths

WORLD = paths.default_world()
DEV = paths.dev_cases()


@pytest.fixture(scope="session")
def world_path() -> Path:
    assert WORLD.exists(), f"tests read the world at {WORLD} (the repository's copy of the contract)"
    return WORLD


@pytest.fixture(scope="session")
def world(world_path: Path) -> dict:
    return json.loads(world_path.read_text())


@pytest.fixture
def mac(world_path: Path) -> SimulatedMac:
    m = SimulatedMac(":memory:", world_path)
    yield m
    m.close()


@pytest.fixture(scope="session")
def dev_cases() -> list[dict]:
    return [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
