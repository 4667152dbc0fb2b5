"""`python -m services.launch STAGE`: what supervisord runs for each stage.

It starts the command that config/pippin.toml's [commands] names for the stage, or the
stage's own module; so a stage is swapped (another model, a dev build) by editing the
config and `supervisorctl restart STAGE`, without touching the others."""

from __future__ import annotations

import os
import shlex
import sys

from shared import config as config_mod


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in config_mod.PROCESSES:
        raise SystemExit(f"usage: python -m services.launch STAGE ({', '.join(config_mod.PROCESSES)})")
    stage = argv[0]
    command = config_mod.load().commands.get(stage)
    if command:
        args = shlex.split(command)
        if args[0] == "python":
            args[0] = sys.executable
        os.execvp(args[0], args)
    os.execv(sys.executable, [sys.executable, "-m", f"services.{stage}"])


if __name__ == "__main__":
    main(sys.argv[1:])
