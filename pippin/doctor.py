"""`pippin doctor`: is this machine ready for Pippin, and if not, what to do.

On a Mac it touches each app Pippin drives once, one after another, with a long timeout, so
that macOS's "allow Pippin to control ..." prompts come one at a time, now, while the user
expects them, instead of during a request against its 30 s call timeout. On Linux it says
that only the simulated Mac is available. Every problem comes with the fix in plain words."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.executor.applescript import AUTOMATION_FIX, explain_osascript_error
from services.executor.common import ToolError
from services.executor.zoom import ZoomClient, ZoomSettings
from shared.config import Config

APPS = ("Contacts", "Calendar", "Reminders", "Notes", "Mail", "Messages", "Finder")
TOUCH_SCRIPT = Path(__file__).resolve().parents[1] / "services" / "executor" / "applescript" / "app_touch.applescript"
PROMPT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not applicable here
    detail: str
    fix: str = ""


Runner = Callable[..., subprocess.CompletedProcess[str]]


def check_python(version: tuple[int, int] = sys.version_info[:2]) -> Check:
    if version >= (3, 11):
        return Check("Python", True, f"{version[0]}.{version[1]}")
    return Check("Python", False, f"{version[0]}.{version[1]} is too old (Pippin needs 3.11 or newer)",
                 "install Python 3.12 (`brew install python@3.12`, or the python.org installer), "
                 "then run `make setup` again: it picks the newest python3.1x it finds")


def touch_app(app: str, runner: Runner, osascript: str = "osascript") -> Check:
    """One Apple event to `app`; the first one makes macOS ask the user for permission."""
    try:
        proc = runner([osascript, str(TOUCH_SCRIPT), app], capture_output=True, text=True,
                      timeout=PROMPT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return Check(app, False, f"no answer within {PROMPT_TIMEOUT_S:g} s",
                     f"a permission dialog may be waiting behind other windows: answer it, then run `pippin doctor` "
                     f"again; if none shows, open {AUTOMATION_FIX.format(app=app)}")
    if proc.returncode == 0:
        return Check(app, True, "Pippin may control it")
    why = explain_osascript_error(proc.stderr.strip())
    fix = ("open " + AUTOMATION_FIX.format(app=app)) if ("-1743" in proc.stderr or "not allowed" in why) else ""
    return Check(app, False, why or f"osascript exited with {proc.returncode}", fix)


def check_zoom(settings: ZoomSettings, client: ZoomClient | None = None) -> Check:
    if not settings.configured:
        return Check("Zoom", None, "not set up: get_zoom_meeting_link will say so when asked",
                     "to make Zoom links, set zoom_account_id, zoom_client_id and zoom_client_secret under "
                     "[executor] in config/pippin.toml")
    try:
        (client or ZoomClient(settings)).token()
    except ToolError as e:
        return Check("Zoom", False, str(e))
    return Check("Zoom", True, "credentials accepted" if not settings.token else "a static token (not checked)")


def run_checks(config: Config, *, system: str | None = None, runner: Runner = subprocess.run,
               osascript: str | None = None) -> list[Check]:
    system = system or platform.system()
    checks = [check_python()]
    backend = str(config.executor.get("backend", "simulated"))
    if system != "Darwin":
        checks.append(Check("Mac apps", None, f"this is {system}: only the simulated Mac is available "
                                              "(executor backend 'simulated'); the apps need macOS"))
        if backend == "applescript":
            checks.append(Check("executor backend", False, "config asks for 'applescript', which needs macOS",
                                'set backend = "simulated" under [executor] in config/pippin.toml'))
        return checks
    tool = osascript or shutil.which("osascript")
    if tool is None:
        return [*checks, Check("osascript", False, "not found", "osascript ships with macOS: is PATH intact?")]
    checks += [touch_app(app, runner, tool) for app in APPS]
    if backend != "applescript":
        checks.append(Check("executor backend", None, f"'{backend}': requests run on the simulated Mac",
                            'set backend = "applescript" under [executor] in config/pippin.toml to use the apps'))
    checks.append(check_zoom(ZoomSettings.from_config(config.executor)))
    return checks


def report(checks: list[Check]) -> tuple[str, bool]:
    """The checks as lines, and whether nothing failed."""
    marks = {True: "ok  ", False: "FAIL", None: "--  "}
    lines = []
    for c in checks:
        lines.append(f"{marks[c.ok]} {c.name:<16} {c.detail}")
        if c.fix and c.ok is not True:
            lines.append(f"     {'':<16} -> {c.fix}")
    failed = [c for c in checks if c.ok is False]
    simulated_only = any(c.name == "Mac apps" and c.ok is None for c in checks)
    if failed:
        names = ", ".join(c.name for c in failed)
        verdict = f"Not ready: {len(failed)} problem{'s' if len(failed) > 1 else ''} ({names})."
    else:
        verdict = "Ready for the simulated Mac (the real apps need macOS)." if simulated_only else "Ready."
    return "\n".join([*lines, "", verdict]), not failed
