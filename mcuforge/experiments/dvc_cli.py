"""Run the `dvc` command line of this interpreter's environment (experiments, queue, exp show).

Stages run `python -m stages.<name>`, so this venv's bin/ goes first on PATH whether or not the
venv is activated.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mcuforge.errors import McuforgeError


def dvc_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_dvc(args: list[str], cwd: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    """`dvc <args>` in cwd, output captured; with check, a failure is an error quoting dvc's message."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=dvc_env(),
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        message = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise McuforgeError(f"`dvc {' '.join(args)}` in {cwd} failed (exit {proc.returncode}): {message[0]}")
    return proc


def exp_show(cwd: str | Path, all_commits: bool = False) -> list[dict]:
    """`dvc exp show --json`: the workspace, the baseline commit(s) and their experiments."""
    args = ["exp", "show", "--json", *(["--all-commits"] if all_commits else [])]
    return json.loads(run_dvc(args, cwd).stdout)
