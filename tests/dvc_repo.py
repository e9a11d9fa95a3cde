"""Helpers for tests that run real git and dvc commands in a temporary copy of the repository."""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import yaml

from conftest import ROOT, tool_env

GIT_USER = ["-c", "user.name=t", "-c", "user.email=t@t"]


def dvc_env(**extra: str) -> dict[str, str]:
    """tool_env() for git and dvc in temporary repos (which may not have core.analytics off)."""
    return tool_env(DVC_NO_ANALYTICS="1", **extra)


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command that must succeed; returns its stdout + stderr."""
    proc = subprocess.run(cmd, cwd=cwd, env=env or dvc_env(), capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", *GIT_USER, "commit", "-qm", message], repo)


def copy_repo(dst: Path) -> Path:
    """The project's tracked and untracked-but-not-ignored files, as the first commit of a new git repo."""
    dst.mkdir(parents=True, exist_ok=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    run(["git", "init", "-q"], dst)
    commit(dst, "copy")
    return dst


# The tiny config of the experiment tests (sweeps, Ray, tune). Set in conf/config.yaml itself, not
# only in params.yaml: `dvc exp run` recomposes params.yaml from conf/.
TINY = yaml.safe_load((ROOT / "conf/tiny.yaml").read_text())


def tiny_overrides() -> list[str]:
    """conf/tiny.yaml as Hydra overrides (key.sub=value)."""
    return [f"{section}.{key}={value}" for section, values in TINY.items() for key, value in values.items()]


def tiny_baseline(tmp_path_factory) -> Path:
    """The project on TINY, `dvc repro`-ed and committed. Built once per test session -- once for all
    pytest-xdist workers, under a file lock in their shared temp folder -- and never changed: a test
    module works on its own copy (clone_built)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent
    repo, done = shared / "tiny-baseline", shared / "tiny-baseline.built"
    with (shared / "tiny-baseline.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if repo.exists():   # a build that failed part-way in an earlier worker: start again
                shutil.rmtree(repo)
            copy_repo(repo)
            conf = repo / "conf/config.yaml"
            conf.write_text(conf.read_text() + "\n# tests: tiny\n" + yaml.safe_dump(TINY))
            run(["python", "-m", "mcuforge.cli", "compose"], repo)
            run(["dvc", "repro"], repo)
            commit(repo, "tiny baseline")
            done.touch()
    return repo


def clone_built(src: Path, dst: Path) -> Path:
    """A copy of a built repository (git history, workspace, DVC cache and run-cache), without DVC's
    temporary state (locks, experiment queues) of the source."""
    def skip_dvc_tmp(folder: str, names: list[str]) -> list[str]:
        return ["tmp"] if Path(folder).name == ".dvc" and "tmp" in names else []

    return Path(shutil.copytree(src, dst, symlinks=True, ignore=skip_dvc_tmp))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(repo: Path, rels: list[str]) -> dict[str, str]:
    return {rel: sha256(repo / rel) for rel in rels}


def cached_outs(repo: Path) -> list[str]:
    """Every output in dvc.yaml that DVC caches (and so pushes and pulls): not `cache: false`."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    paths = []
    for stage in stages.values():
        for out in (entry for kind in ("outs", "metrics", "plots") for entry in stage.get(kind, [])):
            path, options = (out, {}) if isinstance(out, str) else next(iter(out.items()))
            if options.get("cache", True):
                paths.append(path)
    return paths


def remove(repo: Path, rels: list[str]) -> None:
    """Delete workspace files or folders (and the DVC cache with rels=[".dvc/cache"])."""
    for rel in rels:
        path = repo / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
