"""`pippin doctor`: here (Linux) for real, and the Mac path with the recorded osascript stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pippin.doctor import APPS, check_python, check_zoom, report, run_checks
from services.executor.zoom import ZoomClient, ZoomSettings
from shared import config as config_mod
from shared import paths

STANDIN = Path(__file__).parent / "standins" / "osascript"


def config(tmp_path: Path):
    return config_mod.load(paths.CONFIG_DIR / "pippin.toml", tmp_path / "run")


def test_pippin_doctor_runs_here_and_says_only_the_simulated_mac_is_available() -> None:
    out = subprocess.run([sys.executable, "-m", "pippin.cli", "doctor"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "only the simulated Mac is available" in out.stdout
    assert out.stdout.strip().endswith("Ready for the simulated Mac (the real apps need macOS).")


def test_on_a_mac_each_app_is_touched_once_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("PIPPIN_STANDIN_LOG", str(log))
    checks = run_checks(config(tmp_path), system="Darwin", osascript=str(STANDIN))
    argvs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [a[2] for a in argvs] == list(APPS) and all(Path(a[1]).name == "app_touch.applescript" for a in argvs)
    assert all(c.ok for c in checks if c.name in APPS)
    text, ok = report(checks)
    assert ok and text.endswith("Ready.")


def test_a_refused_permission_says_where_to_switch_it_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPPIN_STANDIN_LOG", str(tmp_path / "argv.jsonl"))
    monkeypatch.setenv("PIPPIN_STANDIN_REPLIES", json.dumps({"app_touch": {
        "error": "execution error: Not authorized to send Apple events to Mail. (-1743)"}}))
    checks = run_checks(config(tmp_path), system="Darwin", osascript=str(STANDIN))
    mail = next(c for c in checks if c.name == "Mail")
    assert mail.ok is False and "Privacy & Security > Automation" in mail.fix and "Mail" in mail.fix
    text, ok = report(checks)
    assert not ok and "Not ready: 7 problems" in text


def test_an_old_python_is_named_with_the_way_to_a_new_one() -> None:
    check = check_python((3, 9))
    assert check.ok is False and "brew install python@3.12" in check.fix
    assert check_python((3, 12)).ok


def test_zoom_credentials_are_tried() -> None:
    import urllib.error

    def refuse(url: str, headers: dict, body: bytes | None, timeout_s: float) -> dict:
        raise urllib.error.HTTPError(url, 400, "Bad Request", {}, None)  # type: ignore[arg-type]

    settings = ZoomSettings("a", "b", "c")
    bad = check_zoom(settings, ZoomClient(settings, post=refuse))
    assert bad.ok is False and "zoom_client_secret" in bad.detail
    good = check_zoom(settings, ZoomClient(settings, post=lambda *a: {"access_token": "t", "expires_in": 3600}))
    assert good.ok
    assert check_zoom(ZoomSettings()).ok is None


def test_the_applescript_backend_on_linux_is_a_problem(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    cfg.executor["backend"] = "applescript"
    checks = run_checks(cfg, system="Linux")
    assert any(c.name == "executor backend" and c.ok is False for c in checks)
