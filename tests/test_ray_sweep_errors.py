"""`mcuforge sweep --launcher ray` refuses to start, with one line naming the fix, when workers could
not reproduce the driver's state: uncommitted changes, no git remote, HEAD not pushed, no DVC
remote, no Ray at the address; and a second sweep on a repository whose sweep lock is held fails
at once. Nothing needs a Ray cluster: every check comes before Ray is contacted."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvc_repo import commit, copy_repo, dvc_env, run
from mcuforge.experiments.sweep_lock import sweep_lock
from test_remote import free_port


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    """A bare git repository holding a copy of the project (its DVC remote: the default folder)."""
    base = tmp_path_factory.mktemp("ray-errors")
    repo = copy_repo(base / "seed")
    run(["git", "init", "-q", "--bare", "-b", "main", str(base / "origin.git")], base)
    run(["git", "push", "-q", str(base / "origin.git"), "HEAD:main"], repo)
    return base / "origin.git"


@pytest.fixture
def clone(origin, tmp_path) -> Path:
    run(["git", "clone", "-q", str(origin), str(tmp_path / "repo")], tmp_path)
    return tmp_path / "repo"


def ray_sweep(repo: Path, address: str | None = None, *extra: str) -> subprocess.CompletedProcess:
    address = address or f"127.0.0.1:{free_port()}"   # nothing listens there
    return subprocess.run([sys.executable, "-m", "mcuforge.cli", "sweep", "--launcher", "ray", "--address",
                           address, *extra, "prune.keep=0.5"], cwd=repo, env=dvc_env(),
                          capture_output=True, text=True, timeout=300)


def error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_unreachable_address_names_ray_start(clone):
    port = free_port()
    line = error_line(ray_sweep(clone, f"127.0.0.1:{port}"))
    assert line.startswith(f"error: cannot reach Ray at 127.0.0.1:{port}") and "ray start --head" in line, line


def test_malformed_address(clone):
    assert "expected host:port of the Ray head" in error_line(ray_sweep(clone, "nohostport"))


def test_uncommitted_change_names_the_file_and_the_fix(clone):
    with (clone / "README.md").open("a") as readme:
        readme.write("\nlocal edit\n")
    line = error_line(ray_sweep(clone))
    assert "uncommitted changes (README.md)" in line and "commit them" in line, line


def test_no_git_remote_names_git_remote_add(clone):
    run(["git", "remote", "remove", "origin"], clone)
    line = error_line(ray_sweep(clone))
    assert "no git remote `origin`" in line and "git remote add origin" in line, line


def test_commit_not_pushed_names_git_push(clone):
    (clone / "notes.txt").write_text("not pushed\n")
    commit(clone, "local only")
    line = error_line(ray_sweep(clone))
    assert "is not on git remote `origin`" in line and "git push origin HEAD" in line, line


def test_no_dvc_remote_names_dvc_remote_add(clone):
    run(["dvc", "remote", "remove", "local"], clone)
    commit(clone, "no dvc remote")
    run(["git", "push", "-q", "origin", "HEAD:refs/heads/no-dvc-remote"], clone)   # main stays as it was
    line = error_line(ray_sweep(clone))
    assert "no DVC remote" in line and "dvc remote add -d" in line, line


def test_address_without_ray_launcher_is_an_error(clone):
    proc = subprocess.run([sys.executable, "-m", "mcuforge.cli", "sweep", "--address", "127.0.0.1:1",
                           "prune.keep=0.5"], cwd=clone, env=dvc_env(), capture_output=True, text=True)
    assert "--launcher ray --address" in error_line(proc)


@pytest.mark.parametrize("launcher", [[], ["--launcher", "ray", "--address", "127.0.0.1:1"]])
def test_a_held_sweep_lock_makes_the_next_sweep_fail_fast(clone, launcher):
    with sweep_lock(clone):
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "mcuforge.cli", "sweep", *launcher, "prune.keep=0.5"],
                              cwd=clone, env=dvc_env(), capture_output=True, text=True, timeout=120)
        assert time.monotonic() - started < 60
    line = error_line(proc)
    assert "another sweep is running" in line and f"pid {os.getpid()}:" in line, line
    assert not list((clone / ".dvc/tmp/sweeps").rglob("experiment.json"))   # no job ran
