"""Run DVC experiments on a Ray cluster and bring them back into the repository.

    results = run_on_ray(".", [RayJob("k=0.5", ["prune.keep=0.5"])], address="10.0.0.1:6379")

Before anything starts (each a McuforgeError naming the fix): a clean git tree, the git remote
and DVC remote of conf/sweep/ray.yaml configured, HEAD on that git remote, Ray answering at the
address. The baseline's DVC outputs and run-cache go to the DVC remote (`dvc push --run-cache`),
then each job is one Ray task (ray_worker.run_job: clone, `dvc exp run`, `dvc exp push`) and, as
each finishes, the driver `dvc exp pull`s it, so `dvc exp show` and `mcuforge best` see it as if it
had run here. A job whose worker died (kill -9, lost node) is re-run `max_retries` times, then
reported failed; the others are unaffected. The repository's sweep lock is held throughout.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from mcuforge import atomic
from mcuforge.errors import McuforgeError
from mcuforge.experiments import ray_worker
from mcuforge.experiments.dvc_cli import run_dvc
from mcuforge.experiments.sweep_lock import sweep_lock

SETTINGS = Path("conf/sweep/ray.yaml")
KEYS = {"num_cpus": (int, float), "memory_mb": (int,), "max_retries": (int,), "git_remote": (str,),
        "dvc_remote": (str, type(None)), "scratch": (str, type(None))}


@dataclass(frozen=True)
class RayJob:
    name: str              # the DVC experiment name (a valid git ref name; must not exist yet)
    overrides: list[str]   # Hydra overrides, each passed to `dvc exp run` as `-S <override>`


@dataclass(frozen=True)
class JobResult:
    name: str
    overrides: list[str]
    returncode: int        # dvc's exit code (0 = ok); -9 when the job's worker died
    seconds: float
    node: str              # host name of the worker that ran it ("" if unknown)
    log: str               # file (in the driver's repository) with the job's command output
    error: str             # "" when ok, else one line saying what failed

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.error


def ray_settings(repo: str | Path = ".") -> dict:
    path = Path(repo) / SETTINGS
    if not path.is_file():
        raise McuforgeError(f"{path} not found: run from the project root (it holds the Ray job settings)")
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for key, types in KEYS.items():
        if not isinstance(settings.get(key), types) or isinstance(settings.get(key), bool):
            raise McuforgeError(f"{path}: `{key}` is {settings.get(key)!r}; expected "
                                f"{' or '.join(t.__name__ for t in types)}")
    if settings["num_cpus"] <= 0 or settings["memory_mb"] <= 0 or settings["max_retries"] < 0:
        raise McuforgeError(f"{path}: num_cpus and memory_mb must be > 0, max_retries >= 0")
    return settings


def _git(args: list[str], repo: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise McuforgeError(f"`git {' '.join(args)}` in {repo} failed: {proc.stderr.strip()[-300:]}")
    return proc


def _absolute(url: str, base: Path) -> str:
    """A local-path remote as an absolute path (workers clone elsewhere); URLs unchanged."""
    if "://" in url or re.match(r"^[^/]+@[^/]+:", url):
        return url
    return str((base / url).resolve())


def preflight(repo: Path, settings: dict) -> dict:
    """What every job needs from the driver's repository, or an error naming the fix."""
    dirty = _git(["status", "--porcelain"], repo).stdout.splitlines()
    if dirty:
        raise McuforgeError(f"{repo} has uncommitted changes ({', '.join(l[3:] for l in dirty[:5])}): "
                            "workers run the last commit; commit them (or `git stash`) and push")
    remote = settings["git_remote"]
    url = _git(["remote", "get-url", remote], repo, check=False)
    if url.returncode != 0:
        raise McuforgeError(f"no git remote `{remote}` (conf/sweep/ray.yaml git_remote): add one every "
                            f"worker can reach, `git remote add {remote} <url>`, and `git push {remote} HEAD`")
    git_url = _absolute(url.stdout.strip(), repo)
    commit = _git(["rev-parse", "HEAD"], repo).stdout.strip()
    listed = _git(["ls-remote", remote], repo).stdout.split()[::2]
    if commit not in listed and not any(
            _git(["merge-base", "--is-ancestor", commit, sha], repo, check=False).returncode == 0
            for sha in set(listed)):
        raise McuforgeError(f"commit {commit[:8]} is not on git remote `{remote}` ({git_url}): workers clone "
                            f"it from there; push it first, e.g. `git push {remote} HEAD`")
    from dvc.config import Config

    config = Config(dvc_dir=str(repo / ".dvc"))   # every level merged, relative urls made absolute
    dvc_remote = settings["dvc_remote"] or config["core"].get("remote", "")
    urls = {name: remote["url"] for name, remote in config["remote"].items()}
    if not dvc_remote or dvc_remote not in urls:
        raise McuforgeError(f"no DVC remote `{dvc_remote or '(default)'}` in {repo}: workers share outputs "
                            "through one; add it with `dvc remote add -d <name> <url>` (docs/remote-storage.md)")
    return {"commit": commit, "git_url": git_url, "dvc_remote": dvc_remote,
            "dvc_url": urls[dvc_remote]}


def _check_reachable(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise McuforgeError(f"--address {address!r}: expected host:port of the Ray head (its GCS port, "
                            "6379 unless `ray start --head --port` said otherwise)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as err:
        raise McuforgeError(f"cannot reach Ray at {address} ({err.strerror or err}): start the head with "
                            f"`ray start --head --port {port}` or pass the right --address") from None


def _result(job: RayJob, reply: dict | None, error: str, log: Path) -> JobResult:
    reply = reply or {}
    code = reply.get("returncode", -9)
    return JobResult(name=job.name, overrides=list(job.overrides), returncode=code,
                     seconds=reply.get("seconds", 0.0), node=reply.get("node", ""), log=str(log),
                     error=error or (f"{reply.get('step')} failed (exit {code})" if code else ""))


def _collect(repo: Path, job: RayJob, ref, settings: dict, log_dir: Path) -> JobResult:
    import ray

    log = log_dir / f"{job.name}.log"
    try:
        reply = ray.get(ref)
    except ray.exceptions.RayError as err:   # the worker or its node died, or run_job raised
        atomic.write_text(log, str(err))
        first = str(err).strip().splitlines()[:1] or [""]
        return _result(job, None, f"worker died or failed: {type(err).__name__}: {first[0][:200]}", log)
    atomic.write_text(log, reply["log"])
    if reply["returncode"] != 0:
        return _result(job, reply, "", log)
    pulled = run_dvc(["exp", "pull", settings["git_remote"], job.name], repo, check=False)
    if pulled.returncode != 0:
        return _result(job, reply, f"dvc exp pull failed: {(pulled.stderr or pulled.stdout).strip()[-200:]}", log)
    return _result(job, reply, "", log)


def run_on_ray(repo: str | Path, jobs: list[RayJob], address: str, *, log_dir: str | Path | None = None,
               on_result: Callable[[JobResult], None] | None = None) -> list[JobResult]:
    """Run jobs on the Ray cluster at address; results in the order of jobs (see the module doc)."""
    repo = Path(repo).resolve()
    settings = ray_settings(repo)
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise McuforgeError(f"two jobs share an experiment name: {sorted({n for n in names if names.count(n) > 1})}")
    log_dir = Path(log_dir or repo / ".dvc/tmp/sweeps" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    with sweep_lock(repo):
        base = preflight(repo, settings)
        _check_reachable(address)
        if run_dvc(["push", "--run-cache"], repo, check=False).returncode != 0:
            print("warning: `dvc push --run-cache` failed: workers will run what they cannot restore", flush=True)
        import ray
        from ray import cloudpickle

        cloudpickle.register_pickle_by_value(ray_worker)
        marker = os.environ.get("MCUFORGE_SWEEP_ID") or uuid.uuid4().hex
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
        task = ray.remote(ray_worker.run_job).options(
            num_cpus=settings["num_cpus"], memory=settings["memory_mb"] * 2**20,
            max_retries=settings["max_retries"], retry_exceptions=False, name="mcuforge_job")
        pending = {}
        results = {}
        try:
            for job in jobs:
                spec = {**base, "name": job.name, "overrides": list(job.overrides), "marker": marker,
                        "scratch": settings["scratch"]}
                pending[task.remote(spec)] = job
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ref)
                results[job.name] = _collect(repo, job, ref, settings, log_dir)
                if on_result:
                    on_result(results[job.name])
        finally:
            for ref in pending:   # interrupted: stop what still runs (its guard kills dvc)
                ray.cancel(ref, force=True)
            ray.shutdown()
    return [results[job.name] for job in jobs]
