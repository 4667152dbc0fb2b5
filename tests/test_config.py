from pathlib import Path

import pytest

from shared import config as config_mod
from shared import paths


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_ipc_endpoints_live_in_the_run_dir(tmp_path: Path) -> None:
    c = config_mod.load(write(tmp_path, ""), tmp_path / "run")
    assert c.endpoint("planner") == f"ipc://{tmp_path / 'run' / 'planner.sock'}"
    assert c.bind_endpoint("planner") == c.endpoint("planner")


def test_tcp_endpoints_bind_everywhere_and_can_be_overridden(tmp_path: Path) -> None:
    c = config_mod.load(write(tmp_path, '[bus]\ntransport = "tcp"\nhost = "10.0.0.2"\nbase_port = 7000\n'
                                        '[endpoints]\nplanner = "tcp://10.0.0.5:7100"\n'), tmp_path)
    assert c.endpoint("gateway") == "tcp://10.0.0.2:7002"
    assert c.bind_endpoint("gateway") == "tcp://*:7002"
    assert c.endpoint("planner") == "tcp://10.0.0.5:7100"
    with pytest.raises(KeyError, match="unknown stage"):
        c.endpoint("toaster")


def test_run_dir_is_expanded_and_bad_toml_is_a_clear_error(tmp_path: Path) -> None:
    c = config_mod.load(write(tmp_path, '[executor]\ndb = "{run}/x.sqlite"\n[commands]\nplanner = ""\n'), tmp_path)
    assert c.executor["db"] == f"{tmp_path.resolve()}/x.sqlite"
    assert c.commands == {}
    with pytest.raises(SystemExit, match="not valid TOML"):
        config_mod.load(write(tmp_path, "[bus\n"), tmp_path)


def test_the_shipped_config_loads() -> None:
    c = config_mod.load()
    assert c.planner["model"] == "qwen-0.5b" and c.scheduler["policy"] == "draft"


def test_one_stage_list_names_every_supervisord_program_and_every_endpoint() -> None:
    import re



    programs = re.findall(r"^\[program:(\w+)\]", (paths.REPO_ROOT / "supervisord.conf").read_text(), re.M)
    assert sorted(programs) == sorted(config_mod.PROCESSES)
    cfg = config_mod.load(paths.CONFIG_DIR / "pippin.toml")
    for stage in config_mod.ENDPOINTS:
        assert cfg.endpoint(stage)


def test_the_config_file_shows_the_defaults_the_code_uses() -> None:
    """Each default lives in one place (a settings dataclass or a named constant); pippin.toml
    shows the same values, so that reading it never misleads."""
    import dataclasses

    from services.gateway.__main__ import REQUEST_TIMEOUT_S
    from services.planner.llm import PlannerSettings
    from services.scheduler.engine import SchedulerSettings

    cfg = config_mod.load(paths.CONFIG_DIR / "pippin.toml")
    scheduler = SchedulerSettings.from_config(cfg.scheduler)
    assert scheduler == SchedulerSettings(), "a [scheduler] value in pippin.toml differs from its default"
    planner_defaults = {f.name: f.default for f in dataclasses.fields(PlannerSettings)}
    for key, value in cfg.planner.items():
        if key in planner_defaults:
            assert value == planner_defaults[key], key
    assert cfg.gateway["request_timeout_s"] == REQUEST_TIMEOUT_S
