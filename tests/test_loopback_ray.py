"""The loopback Ray cluster runs its tasks at the priority asked for: Ray's default adds 15 to a task
worker's nice value (below every nice-15 neighbour on a shared machine), worker_niceness=0 keeps
the caller's, which `mcuforge bench scaleout` needs to measure the cluster rather than the neighbours."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mcuforge.experiments import loopback_ray

pytestmark = pytest.mark.slow

TASK_NICE = """
import os, ray
ray.init(address="{address}", log_to_driver=False, logging_level="ERROR")
print(ray.get(ray.remote(num_cpus=1)(lambda: os.nice(0)).remote()))
"""


@pytest.mark.parametrize("worker_niceness, added", [(None, 15), (0, 0)])
def test_task_niceness(tmp_path, worker_niceness, added):
    why_not = loopback_ray.available()
    if why_not:
        pytest.skip(why_not)
    cluster = loopback_ray.LoopbackCluster(tmp_path / "cluster", workers=1, worker_niceness=worker_niceness)
    try:
        proc = subprocess.run(cluster.ns([sys.executable, "-c", TASK_NICE.format(address=cluster.address)]),
                              capture_output=True, text=True, timeout=600)
    finally:
        cluster.stop()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.strip().splitlines()[-1]) == min(os.nice(0) + added, 19)
