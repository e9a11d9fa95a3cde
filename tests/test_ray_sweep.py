"""`mcuforge sweep --launcher ray` on a real Ray cluster (a head and 2 worker nodes, reachable only
on 127.0.0.1: tests/ray_cluster.py), a bare git repository as the remote and the default local-folder
DVC remote, on the tiny config: every experiment comes back with its params and metrics; `kill -9`
of a job's Ray worker loses only that job, leaves a sound cache and needs no cleanup before the
next sweep; no process outlives a sweep; two sweeps at once: the second fails fast."""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mcuforge.experiments import loopback_ray as ray_cluster
from dvc_repo import clone_built, commit, dvc_env, run
from mcuforge.experiments.runs import experiment_rows
from mcuforge.experiments.sweep_lock import LOCK

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tiny_repo, tmp_path_factory) -> Path:
    """The tiny baseline, run and committed, pushed to a bare `origin`; job scratch folders in the test's tmp."""
    base = tmp_path_factory.mktemp("ray-sweep")
    repo = clone_built(tiny_repo, base / "repo")
    settings = repo / "conf/sweep/ray.yaml"
    settings.write_text(settings.read_text().replace("scratch: null", f"scratch: {base / 'scratch'}"))
    run(["python", "-m", "mcuforge.cli", "compose"], repo)
    run(["dvc", "repro"], repo)
    commit(repo, "job scratch folders in the test's tmp")
    run(["git", "init", "-q", "--bare", "-b", "main", str(base / "origin.git")], base)
    run(["git", "remote", "add", "origin", str(base / "origin.git")], repo)
    run(["git", "push", "-q", "origin", "HEAD:main"], repo)
    return repo


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why_not = ray_cluster.available()
    if why_not:
        pytest.skip(why_not)
    cluster = ray_cluster.LoopbackCluster(tmp_path_factory.mktemp("ray-cluster"), workers=2)
    yield cluster
    cluster.stop()


def start_sweep(repo: Path, cluster, marker: str, *overrides: str, launcher: str = "ray") -> subprocess.Popen:
    args = ["--launcher", "ray", "--address", cluster.address] if launcher == "ray" else []
    cmd = [sys.executable, "-m", "mcuforge.cli", "sweep", *args, "--multirun", *overrides]
    return subprocess.Popen(cluster.ns(cmd) if launcher == "ray" else cmd, cwd=repo,
                            env=dvc_env(MCUFORGE_SWEEP_ID=marker), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 2400) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def marked_processes(marker: str) -> list[str]:
    """Live processes whose environment carries the sweep's marker (everything the sweep started)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if f"MCUFORGE_SWEEP_ID={marker}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(proc.name + ": " + (proc / "cmdline").read_text(errors="replace").replace("\0", " ")[:200])
        except OSError:
            continue
    return found


def assert_nothing_left(marker: str) -> None:
    deadline = time.monotonic() + 20   # a killed job's guard gets SIGTERM from the kernel, then kills its group
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert marked_processes(marker) == []


def sound(storage: Path) -> int:
    """Every content-addressed file in a DVC cache or local remote hashes to its own name; their count."""
    files = [p for p in (storage / "files/md5").rglob("*") if p.is_file()]
    for path in files:
        assert hashlib.md5(path.read_bytes()).hexdigest() == path.parent.name + path.name.removesuffix(".dir"), path
    return len(files)


def rows(repo: Path) -> dict:
    return {r.name: r for r in experiment_rows(json.loads(run(["dvc", "exp", "show", "--json"], repo)))
            if r.kind == "experiment"}


def assert_arrived(row, keep: float) -> None:
    assert row.finished and row.param("prune.keep") == keep
    assert 0 < row.metric("prune", "macs_ratio") <= keep
    assert row.metric("firmware", "flash_bytes") > 0
    assert row.metric("firmware", "qemu.device_accuracy") == row.metric("quantize", "test_accuracy_int8")


def test_the_cluster_listens_on_loopback_only(cluster):
    addresses = subprocess.run(cluster.ns(["ip", "-brief", "address"]), capture_output=True, text=True).stdout
    assert [line.split()[0] for line in addresses.splitlines()] == ["lo"], addresses
    listening = [line.split()[3] for line in cluster.listening().splitlines()[1:]]
    assert listening and all(re.match(r"^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]|\[::1\]):\d+$", a) for a in listening), \
        listening
    host = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout   # the machine's own namespace
    ours = ray_cluster.process_groups_alive(cluster.groups)
    assert not [line for line in host.splitlines() if any(f"pid={pid}," in line for pid in ours)]


def test_every_experiment_comes_back_and_no_process_outlives_the_sweep(repo, cluster):
    marker = uuid.uuid4().hex
    code, out, err = finish(start_sweep(repo, cluster, marker, "prune.keep=0.5,0.8"))
    assert code == 0, out + err
    assert_nothing_left(marker)
    found = rows(repo)
    for keep in (0.5, 0.8):
        assert re.search(rf"^prune\.keep={keep} +ok ", out, re.MULTILINE), out
        assert_arrived(found[f"prune.keep={keep}"], keep)
    assert list((repo.parent / "scratch").iterdir()) == []   # every job removed its clone
    assert "nrf52840dk" in run(["python", "-m", "mcuforge.cli", "best", "--board", "nrf52840dk"], repo)


def test_kill_9_of_a_worker_loses_only_its_job_and_needs_no_cleanup(repo, cluster):
    marker = uuid.uuid4().hex
    sweep = start_sweep(repo, cluster, marker, "prune.keep=0.45,0.4")   # 0.4: the baseline's, restored
    worker = ray_cluster.job_worker("prune.keep=0.45")
    assert Path(f"/proc/{worker}/cmdline").read_bytes().startswith(b"ray::"), worker
    os.kill(worker, signal.SIGKILL)
    code, out, err = finish(sweep)
    assert code == 2, out + err
    assert re.search(r"\[FAILED\] prune\.keep=0\.45 .*worker died", out), out  # Ray's own stderr may precede it on the line
    assert "error: 1 of 2 experiments failed" in err, err
    assert_nothing_left(marker)
    found = rows(repo)
    assert "prune.keep=0.45" not in found
    assert_arrived(found["prune.keep=0.4"], 0.4)
    assert sound(repo / ".dvc/cache") > 0 and sound(repo.parent / "mcuforge-dvc-storage") > 0
    assert "Cache and remote 'local' are in sync" in run(["dvc", "status", "--cloud"], repo)
    # the same job again, nothing cleaned by hand: the killed clone's scratch folder goes too
    marker = uuid.uuid4().hex
    code, out, err = finish(start_sweep(repo, cluster, marker, "prune.keep=0.45"))
    assert code == 0, out + err
    assert_arrived(rows(repo)["prune.keep=0.45"], 0.45)
    assert list((repo.parent / "scratch").iterdir()) == []
    assert_nothing_left(marker)


def test_two_sweeps_at_once_the_second_fails_fast(repo, cluster):
    marker = uuid.uuid4().hex
    first = start_sweep(repo, cluster, marker, "quantize.representative_windows=32", launcher="local")
    deadline = time.monotonic() + 300
    while "pid" not in ((repo / LOCK).read_text() if (repo / LOCK).exists() else ""):
        assert first.poll() is None and time.monotonic() < deadline, "the first sweep never took the lock"
        time.sleep(0.1)
    started = time.monotonic()
    code, out, err = finish(start_sweep(repo, cluster, marker, "prune.keep=0.7"), timeout=300)
    assert code == 2 and "another sweep is running" in err, out + err
    assert time.monotonic() - started < 60
    assert first.poll() is None, "the first sweep ended before the second was refused: the test proved nothing"
    code, out, err = finish(first)
    assert code == 0, out + err
    assert rows(repo)["quantize.representative_windows=32"].finished
    assert "prune.keep=0.7" not in rows(repo)
    assert sound(repo / ".dvc/cache") > 0
    assert_nothing_left(marker)
