"""Where things are: the repository, its copy of the contract, caches."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The contract the project is measured against (the simulated Mac's world, the plan language,
# the evaluation cases). The repository carries its own copy, which everything reads; the
# original sits in ../shared beside a checkout, where a test checks that the copy has not drifted.
CONTRACT_DIR = REPO_ROOT / "tests" / "shared"
UPSTREAM_CONTRACT_DIR = Path(os.environ.get("PIPPIN_SHARED", REPO_ROOT.parent / "shared"))
CONFIG_DIR = REPO_ROOT / "config"
# Model files assembled from wheels, compiled wheels and the like; never in git.
CACHE_DIR = Path(os.environ.get("PIPPIN_CACHE", Path.home() / ".cache" / "pippin"))
RUN_DIR = Path(os.environ.get("PIPPIN_RUN", REPO_ROOT / "run"))


def default_world() -> Path:
    """The simulated Mac the demo, the tests and the evaluation run on."""
    return CONTRACT_DIR / "world" / "default.json"


def dev_cases() -> Path:
    return CONTRACT_DIR / "eval" / "dev.jsonl"


def fresh_cases() -> Path:
    """Hand-written held-out cases of our own: reported beside dev, never trained or tuned on."""
    return CONTRACT_DIR / "eval" / "fresh.jsonl"
