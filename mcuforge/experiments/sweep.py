"""Hydra sweeps as DVC experiments: every job of a Hydra (multi)run becomes one `dvc exp run`.

    mcuforge sweep --multirun board=nrf52840dk,qemu_cortex_m3 prune.keep=0.3,0.5 \\
        hydra/launcher=joblib hydra.launcher.n_jobs=2

A Hydra app on the project's conf/ (run from the project root), so overrides are checked against
the real groups and keys before anything runs. Each job runs
`dvc --wait-for-lock exp run --temp --name <name> -S <its overrides>` in the project: a full
experiment in its own temporary copy, results in `dvc exp show`. Parallel jobs (the joblib
launcher; Ray or submitit on a cluster) are safe: DVC serialises only the short sections that
touch the repository, and the shared cache + run-cache let stages that another job already ran
be restored instead of re-run.

Names are reproducible: the job's overrides joined by "," (characters git refuses in ref names
become "_"), e.g. `board=qemu_cortex_m3,prune.keep=0.5`; an existing experiment with that
name makes the job fail (remove it with `dvc exp remove <name>` first). Hydra's own outputs and
one dvc.log + experiment.json per job go to .dvc/tmp/sweeps/<time>/ (inside .dvc/tmp: ignored by
git and DVC). Ends with a table of names, overrides, results and times; exit 2 if any failed.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from mcuforge import atomic
from mcuforge.experiments.dvc_cli import run_dvc
from mcuforge.errors import McuforgeError

SWEEPS_DIR = Path(".dvc/tmp/sweeps")
RECORD = "experiment.json"
_NOT_IN_REF = re.compile(r"[^A-Za-z0-9._=,+-]")


def experiment_name(overrides: list[str]) -> str:
    """A valid git ref name that says what the experiment changed ("defaults" for none)."""
    name = _NOT_IN_REF.sub("_", ",".join(overrides))
    name = re.sub(r"\.{2,}", ".", name).strip(".-")
    return name.removesuffix(".lock") or "defaults"


def run_experiment(_cfg) -> dict:
    """Hydra task function: one job = one DVC experiment; recorded beside Hydra's job outputs."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    name = experiment_name(overrides)
    out = Path(hydra_cfg.runtime.output_dir)
    args = ["--wait-for-lock", "exp", "run", "--temp", "--name", name]
    for override in overrides:
        args += ["-S", override]
    started = time.monotonic()
    proc = run_dvc(args, hydra_cfg.runtime.cwd, check=False)
    record = {"job": int(hydra_cfg.job.get("num") or 0), "name": name, "overrides": overrides,
              "returncode": proc.returncode,
              "seconds": round(time.monotonic() - started, 1), "log": str(out / "dvc.log")}
    atomic.write_text(out / "dvc.log", proc.stdout + proc.stderr)
    atomic.write_json(out / RECORD, record)
    print(f"[{'ok' if proc.returncode == 0 else 'FAILED'}] {name} ({record['seconds']} s)", flush=True)
    return record


def collect(sweep_dir: Path) -> list[dict]:
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sweep_dir.rglob(RECORD)]
    return sorted(records, key=lambda r: r["job"])


def summary(records: list[dict]) -> str:
    width = max([len(r["name"]) for r in records] + [10])
    lines = [f"{'experiment':<{width}}  result   seconds  overrides"]
    for r in records:
        result = "ok" if r["returncode"] == 0 else f"exit {r['returncode']}"
        lines.append(f"{r['name']:<{width}}  {result:<7} {r['seconds']:>8}  {' '.join(r['overrides'])}")
    return "\n".join(lines)


def hydra_argv(argv: list[str], sweep_dir: Path) -> list[str]:
    """The user's Hydra arguments, with Hydra's output dirs set to sweep_dir (where records are read)."""
    for arg in argv:
        if re.match(r"hydra\.(run|sweep)\.dir=|hydra\.job\.chdir=", arg):
            raise McuforgeError(f"`{arg}`: mcuforge sweep sets Hydra's output dirs itself "
                                f"({SWEEPS_DIR}/<time>/); drop this override")
    return [*argv, f"hydra.run.dir='{sweep_dir}'", f"hydra.sweep.dir='{sweep_dir}'", "hydra.job.chdir=false"]


def run_sweep(hydra_args: list[str]) -> None:
    """Run the Hydra (multi)run given by hydra_args (as on Hydra's command line), one DVC experiment per job."""
    import hydra

    root = Path.cwd()
    for required in ("conf/config.yaml", "dvc.yaml"):
        if not (root / required).exists():
            raise McuforgeError(f"{root / required} not found: run `mcuforge sweep` from the project root")
    sweep_dir = root / SWEEPS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    sys.argv = ["mcuforge sweep", *hydra_argv(list(hydra_args), sweep_dir)]
    app = hydra.main(config_path=str(root / "conf"), config_name="config", version_base="1.3")(run_experiment)
    app()
    records = collect(sweep_dir)
    if not records:
        raise McuforgeError(f"no experiment ran (Hydra outputs in {sweep_dir})")
    print(summary(records))
    failed = [r for r in records if r["returncode"] != 0]
    if failed:
        raise McuforgeError(f"{len(failed)} of {len(records)} experiments failed; dvc's output: "
                            + ", ".join(r["log"] for r in failed))
    print(f"experiments: {len(records)}; compare them with `dvc exp show` (docs/experiments.md), "
          f"pick one with `mcuforge best --board <board>`")

