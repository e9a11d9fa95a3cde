"""What one sweep job does on a Ray worker: clone, `dvc exp run`, `dvc exp push`, report back.

Shipped to the workers by value (ray_jobs registers this module with cloudpickle), so a worker
needs the project's dependencies, not this version of mcuforge: the stages then run from the
clone itself. Deliberately imports nothing from mcuforge.

Every command runs under a small guard process (GUARD) that puts it in its own process group and
gets SIGTERM from Linux when the Ray worker dies (PR_SET_PDEATHSIG), even by `kill -9`: it then
kills the whole group, so `dvc` and the stage it was running never outlive their job. The
scratch folder of a killed job is removed by the next job that starts on that machine.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRATCH_PREFIX = "mcuforge-job-"
OWNER_FILE = "owner.pid"
GUARD = r"""
import ctypes, os, signal, subprocess, sys
ctypes.CDLL(None).prctl(1, signal.SIGTERM)          # PR_SET_PDEATHSIG: SIGTERM when our parent dies
if os.getppid() != int(sys.argv[1]):
    sys.exit(137)                                     # it died before prctl took effect
child = subprocess.Popen(sys.argv[3:], start_new_session=True)
def stop(*_):
    try: os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError: pass
    os._exit(137)
signal.signal(signal.SIGTERM, stop)
code = child.wait()
try: os.killpg(child.pid, signal.SIGKILL)             # anything it left behind in its group
except ProcessLookupError: pass
sys.exit(code)
"""


def _env(marker: str) -> dict[str, str]:
    env = dict(os.environ, DVC_NO_ANALYTICS="1", MCUFORGE_SWEEP_ID=marker)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _guarded(cmd: list[str], cwd: Path, log, marker: str, name: str) -> int:
    """Run cmd under GUARD (argv: our pid, the job name for `ps`, cmd); its output to log."""
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    return subprocess.run([sys.executable, "-c", GUARD, str(os.getpid()), f"mcuforge-job={name}", *cmd],
                          cwd=cwd, env=_env(marker), stdout=log, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL).returncode


def _remove_stale_scratch(root: Path) -> None:
    """Scratch folders whose owning worker process is gone (a job killed mid-run)."""
    for folder in root.glob(f"{SCRATCH_PREFIX}*"):
        try:
            os.kill(int((folder / OWNER_FILE).read_text()), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue


def run_job(spec: dict) -> dict:
    """spec: name, overrides, commit, git_url, dvc_remote, dvc_url, marker, scratch (None: temp dir).

    Returns name, returncode, seconds, node, step (the step that failed, "" if none), log (text)."""
    started = time.monotonic()
    root = Path(spec.get("scratch") or tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_scratch(root)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root))
    (scratch / OWNER_FILE).write_text(str(os.getpid()))
    repo, dvc = scratch / "repo", [sys.executable, "-m", "dvc"]
    name, remote = spec["name"], spec["dvc_remote"]
    steps = [
        ("clone", ["git", "clone", "--quiet", "--no-checkout", spec["git_url"], str(repo)], scratch),
        ("checkout", ["git", "checkout", "--quiet", spec["commit"]], repo),
        ("dvc remote", [*dvc, "remote", "modify", "--local", remote, "url", spec["dvc_url"]], repo),
        ("dvc default remote", [*dvc, "remote", "default", "--local", remote], repo),
        # the baseline's outputs and run-cache, so stages the overrides do not touch are restored;
        # whatever the remote lacks is simply run (so this step may fail)
        ("dvc pull", [*dvc, "pull", "--run-cache"], repo),
        ("dvc exp run", [*dvc, "exp", "run", "--name", name,
                         *[a for o in spec["overrides"] for a in ("-S", o)]], repo),
        ("dvc exp push", [*dvc, "exp", "push", "--run-cache", "origin", name], repo),
    ]
    code, failed = 0, ""
    log_path = scratch / "job.log"
    try:
        with log_path.open("w") as log:
            for step, cmd, cwd in steps:
                code = _guarded(cmd, cwd, log, spec["marker"], name)
                if code != 0 and step != "dvc pull":
                    failed = step
                    break
        text = log_path.read_text(errors="replace")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"name": name, "returncode": code, "seconds": round(time.monotonic() - started, 1),
            "node": socket.gethostname(), "step": failed, "log": text}
