"""A tuner trial on a Ray cluster: the same `dvc exp run --name ... -S ...`, run by a Ray worker
through mcuforge.experiments.ray_jobs (clone, run, `dvc exp push`; the driver pulls the experiment).

    runner = ray_runner("127.0.0.1:6379");  code = runner(root, name, overrides, log)

The job's dvc output is copied to the trial's log, where an over-budget refusal is read as for a
local trial. A job that finished but whose experiment did not arrive in the driver's repository
counts as failed (exit 1).
"""
from __future__ import annotations

from pathlib import Path

from mcuforge import atomic
from mcuforge.errors import McuforgeError


def ray_runner(address: str | None):
    if not address:
        raise McuforgeError("--launcher ray needs --address <ray head>, e.g. 127.0.0.1:6379 (docs/scaling-out.md)")
    from mcuforge.experiments.ray_jobs import RayJob, run_on_ray

    def run(root: Path, name: str, overrides: list[str], log: Path) -> int:
        (result,) = run_on_ray(root, [RayJob(name, list(overrides))], address, log_dir=log.parent / "ray")
        job_log = Path(result.log) if result.log else None
        text = job_log.read_text(encoding="utf-8", errors="replace") if job_log and job_log.is_file() else ""
        atomic.write_text(log, text + (f"\n{result.error}\n" if result.error else ""))
        if result.returncode == 0 and not result.ok:
            return 1
        return result.returncode
    return run
