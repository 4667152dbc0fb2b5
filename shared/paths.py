"""Where things are: the repository, the measured-against ../shared folder, caches."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout holds the eval cases and the reference world.
SHARED_DIR = Path(os.environ.get("PIPPIN_SHARED", REPO_ROOT.parent / "shared"))
CONFIG_DIR = REPO_ROOT / "config"
# Model files assembled from wheels, compiled wheels and the like; never in git.
CACHE_DIR = Path(os.environ.get("PIPPIN_CACHE", Path.home() / ".cache" / "pippin"))
RUN_DIR = Path(os.environ.get("PIPPIN_RUN", REPO_ROOT / "run"))


def default_world() -> Path:
    """The world the project measures against, or the copy it ships for the demo."""
    measured = SHARED_DIR / "world" / "default.json"
    return measured if measured.exists() else CONFIG_DIR / "world" / "default.json"


def dev_cases() -> Path:
    return SHARED_DIR / "eval" / "dev.jsonl"
