import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_runs_the_pipeline_end_to_end() -> None:
    out = subprocess.run([sys.executable, "-m", "pippin.cli", "demo", "--planner", "reference"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "All stages ready" in out.stdout
    assert sum(line.startswith("> ") for line in out.stdout.splitlines()) == 4
    assert "Zoom meeting created: https://zoom.us/j/" in out.stdout
    assert "FAILED" not in out.stdout
