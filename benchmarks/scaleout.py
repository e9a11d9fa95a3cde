"""The same sweep on a 1-worker and a 2-worker Ray cluster on this machine (loopback only).

    mcuforge bench scaleout [--work DIR] [--out PATH] [--grid OVERRIDE...] [--cache-from REPO] [--no-kill]

A copy of the project on the tiny config is run once (the baseline); then, for each cluster size,
a fresh clone with its own bare git `origin` and its own empty DVC remote (so neither run restores
what the other computed) runs `mcuforge sweep --launcher ray --multirun GRID`, timed from start to
the last experiment pulled back. In the 2-worker run the Ray worker of the first job is killed
with SIGKILL as soon as its `dvc exp run` starts; the benchmark's conf/sweep/ray.yaml allows one
retry, so that job runs again and every other job must be unaffected.

Writes reports/bench_scaleout.json: jobs, workers, wall_s_1_worker, wall_s_2_workers, speedup,
experiments_arrived (of the 2-worker run), killed_trial, killed_worker_trials_lost (jobs missing
besides the killed one), load averages before and after each run (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcuforge import atomic  # noqa: E402
from mcuforge.experiments.loopback_ray import LoopbackCluster, job_worker  # noqa: E402
from mcuforge.experiments.runs import experiment_rows  # noqa: E402
from mcuforge.experiments.sweep import experiment_name  # noqa: E402

TINY = ROOT / "conf/tiny.yaml"  # the tiny config, as in the end-to-end tests
GRID = ["board=nrf52840dk,qemu_cortex_m3,mps2_an385,nucleo_l4r5zi", "firmware.sample_windows=8,16"]
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@mcuforge"]


def sh(cmd: list[str], cwd: Path, **kw) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def seed(work: Path, cache_from: Path | None) -> Path:
    """The project's files on the tiny config, baseline run (restored from cache_from's run-cache
    when that repository ran the same tiny baseline) and committed (max_retries 1)."""
    repo = work / "seed"
    files = sh(["git", "ls-files", "-co", "--exclude-standard"], ROOT).split()
    for rel in files:
        if (ROOT / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, repo / rel)
    conf = repo / "conf/config.yaml"
    conf.write_text(conf.read_text() + "\n# bench scaleout: tiny\n" + TINY.read_text())
    ray_conf = repo / "conf/sweep/ray.yaml"
    ray_conf.write_text(ray_conf.read_text().replace("max_retries: 0", "max_retries: 1"))
    sh([sys.executable, "-m", "mcuforge.cli", "compose"], repo)
    sh(["git", "init", "-q", "-b", "main"], repo)
    if cache_from:
        shutil.copytree(cache_from / ".dvc/cache", repo / ".dvc/cache", dirs_exist_ok=True)
    sh([sys.executable, "-m", "dvc", "repro"], repo)
    sh(["git", "add", "-A"], repo)
    sh([*GIT, "commit", "-qm", "tiny baseline"], repo)
    return repo


def prepared(work: Path, seed_repo: Path, workers: int) -> Path:
    """A clone of the seed with its own bare origin and empty DVC remote, the seed's cache copied."""
    base = work / f"{workers}-workers"
    sh(["git", "clone", "-q", str(seed_repo), str(base / "repo")], work)
    repo = base / "repo"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(base / "origin.git")], base)
    sh(["git", "remote", "set-url", "origin", str(base / "origin.git")], repo)
    sh(["git", "push", "-q", "origin", "HEAD:main"], repo)
    sh([sys.executable, "-m", "dvc", "remote", "modify", "--local", "local", "url", str(base / "storage")], repo)
    shutil.copytree(seed_repo / ".dvc/cache", repo / ".dvc/cache")
    return repo


def timed_sweep(work: Path, repo: Path, workers: int, grid: list[str], kill: str | None, niceness: int) -> dict:
    cluster = LoopbackCluster(work / f"{workers}-workers" / "cluster", workers=workers, worker_niceness=niceness)
    try:
        load_before = os.getloadavg()
        started = time.monotonic()
        sweep = subprocess.Popen(cluster.ns([sys.executable, "-m", "mcuforge.cli", "sweep", "--launcher", "ray",
                                             "--address", cluster.address, "--multirun", *grid]),
                                 cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 env={**os.environ, "DVC_NO_ANALYTICS": "1"})
        if kill:
            os.kill(job_worker(kill), signal.SIGKILL)
        out, _ = sweep.communicate()
        wall = time.monotonic() - started
        load_after = os.getloadavg()
    finally:
        cluster.stop()
    (work / f"{workers}-workers" / "sweep.log").write_text(out)
    shown = experiment_rows(json.loads(sh([sys.executable, "-m", "dvc", "exp", "show", "--json"], repo)))
    arrived = sorted(r.name for r in shown if r.kind == "experiment" and r.finished)
    return {"wall_s": round(wall, 1), "exit": sweep.returncode, "arrived": arrived,
            "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after]}


def main(argv: list[str] | None = None, prog: str = "scaleout") -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir, removed)")
    parser.add_argument("--grid", nargs="+", default=GRID, help=f"Hydra multirun overrides (default: {GRID})")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/bench_scaleout.json")
    parser.add_argument("--cache-from", type=Path, default=None,
                        help="a repository that ran the same tiny baseline: its DVC cache seeds the baseline's run")
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker in the 2-worker run")
    parser.add_argument("--worker-niceness", type=int, default=0,
                        help="added to the Ray task workers' nice value (default 0: the jobs run at this command's "
                             "priority; Ray's own default, 15, puts them level with every nice-15 neighbour)")
    args = parser.parse_args(argv)
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper   # Hydra's own grid expansion
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(args.grid)
    jobs = [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    work = args.work or Path(tempfile.mkdtemp(prefix="mcuforge-bench-scaleout-"))
    try:
        seed_repo = seed(work, args.cache_from)
        kill = None if args.no_kill else experiment_name(jobs[0])
        runs = {n: timed_sweep(work, prepared(work, seed_repo, n), n, args.grid, kill if n == 2 else None,
                               args.worker_niceness) for n in (1, 2)}
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    names = {experiment_name(job) for job in jobs}
    lost = names - set(runs[2]["arrived"]) - ({kill} if kill else set())
    report = {"jobs": len(jobs), "workers": 2, "grid": args.grid,
              "wall_s_1_worker": runs[1]["wall_s"], "wall_s_2_workers": runs[2]["wall_s"],
              "speedup": round(runs[1]["wall_s"] / runs[2]["wall_s"], 2),
              "ratio_2_to_1": round(runs[2]["wall_s"] / runs[1]["wall_s"], 2),
              "experiments_arrived": len(set(runs[2]["arrived"]) & names),
              "experiments_arrived_1_worker": len(set(runs[1]["arrived"]) & names),
              "killed_trial": kill, "killed_trial_arrived_after_retry": bool(kill) and kill in runs[2]["arrived"],
              "killed_worker_trials_lost": len(lost),
              "sweep_exit": {"1_worker": runs[1]["exit"], "2_workers": runs[2]["exit"]},
              "loadavg": {f"{n}_worker{'s' if n > 1 else ''}": {"before": runs[n]["loadavg_before"],
                                                                   "after": runs[n]["loadavg_after"]} for n in (1, 2)},
              "cores": os.cpu_count(), "nice": os.nice(0), "worker_niceness": args.worker_niceness}
    atomic.write_json(args.out, report)
    print(json.dumps(report, indent=2))
