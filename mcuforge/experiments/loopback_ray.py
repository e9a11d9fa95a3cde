"""A real Ray cluster on this machine for tests and `mcuforge bench scaleout`: a head and N worker
nodes, reachable only on 127.0.0.1.

Ray turns `--node-ip-address 127.0.0.1` into the machine's external address and its GCS and raylets
listen on every interface, so the cluster runs in its own network namespace (an unprivileged
`unshare --user --net`, created by a holder process) whose only interface is the loopback: there
is no other address to listen on. Commands that talk to the cluster (the sweep) run in the same
namespace through `nsenter`. Every process is started in its own session and killed by process
group at stop(); stop() also checks that none survives.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = Path(sys.executable).parent / "ray"


def available() -> str:
    """'' when a cluster can run here, else why not (for pytest.skip)."""
    if not RAY.exists():
        return f"{RAY} is absent: pip install -e '.[ray]' (scripts/setup.sh does)"
    if not shutil.which("unshare") or not shutil.which("nsenter"):
        return "unshare/nsenter (util-linux) not found"
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--net", "true"], capture_output=True)
    return "" if probe.returncode == 0 else "unprivileged user+network namespaces are not allowed here"


def process_groups_alive(pgids: list[int]) -> list[int]:
    """Live (not zombie) processes in these process groups."""
    alive = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z" and os.getpgid(int(proc.name)) in pgids:
                alive.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return alive


def job_worker(name: str, timeout: float = 900) -> int:
    """The pid of the Ray worker process running sweep job `name`, once its `dvc exp run` started
    (found by the job guard's argv, ray_worker.GUARD: `mcuforge-job=<name>` ... `exp run`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                if f"mcuforge-job={name}".encode() in argv and b"exp" in argv and b"run" in argv:
                    return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
        time.sleep(0.5)
    raise AssertionError(f"job {name} never started its dvc exp run")


class LoopbackCluster:
    def __init__(self, workdir: Path, workers: int, port: int = 6379, cpus_per_worker: int = 1,
                 worker_niceness: int | None = None):
        """worker_niceness: added to the task workers' nice value (RAY_worker_niceness); None keeps Ray's
        default of 15, below every nice-15 neighbour; 0 runs tasks at the caller's priority."""
        self.workdir, self.port = workdir, port
        self.worker_niceness = worker_niceness
        self.address = f"127.0.0.1:{port}"
        workdir.mkdir(parents=True, exist_ok=True)
        # Ray's session folder holds Unix sockets (paths <= 107 bytes): a short one of our own, never
        # Ray's default /tmp/ray (shared by every user of the machine)
        self.temp = Path(tempfile.mkdtemp(prefix="mcuforge-ray-"))
        self.holder = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--net", "sh", "-c", "ip link set lo up && exec sleep 86400"],
            start_new_session=True)
        self.groups: list[int] = [self.holder.pid]
        self.procs: list[subprocess.Popen] = [self.holder]
        try:
            deadline = time.monotonic() + 30
            while "UP" not in subprocess.run(self.ns(["ip", "-brief", "link", "show", "lo"]),
                                             capture_output=True, text=True).stdout:
                assert time.monotonic() < deadline, "loopback namespace did not come up"
                time.sleep(0.1)
            self.head = self._start(["--head", "--port", str(port), "--num-cpus", "0", "--include-dashboard",
                                     "false"], "head")
            self.wait_for_cpus(0)
            self.workers = [self.add_worker(i, cpus_per_worker) for i in range(workers)]
        except BaseException:
            self.stop()
            raise

    def ns(self, cmd: list[str]) -> list[str]:
        """cmd run inside the cluster's network namespace."""
        return ["nsenter", "-t", str(self.holder.pid), "-U", "-n", "--preserve-credentials", *cmd]

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("w")
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
        if self.worker_niceness is not None:
            env["RAY_worker_niceness"] = str(self.worker_niceness)
        proc = subprocess.Popen(self.ns([str(RAY), "start", "--block", "--temp-dir", str(self.temp),
                                         "--object-store-memory", str(100 * 2**20), *args]),
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.groups.append(proc.pid)
        self.procs.append(proc)
        return proc

    def add_worker(self, index: int, cpus: int = 1, attempts: int = 3) -> subprocess.Popen:
        """One more worker node, up when the cluster has its CPUs; on a loaded machine a node can
        give up reaching the GCS in time and exit, so it is started again (up to `attempts`)."""
        expected = self.cpus() + cpus
        for attempt in range(attempts):
            proc = self._start(["--address", self.address, "--num-cpus", str(cpus)], f"worker{index}-{attempt}")
            try:
                self.wait_for_cpus(expected)
                return proc
            except AssertionError:
                if proc.poll() is None or attempt == attempts - 1:
                    raise
                self.procs.remove(proc)
        raise AssertionError("unreachable")

    def cpus(self) -> float:
        code = ("import ray; ray.init(address='%s', log_to_driver=False, logging_level='ERROR'); "
                "print(ray.cluster_resources().get('CPU', 0))" % self.address)
        try:   # a loaded machine can take minutes to start a node
            proc = subprocess.run(self.ns([sys.executable, "-c", code]), capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            return -1.0
        return float(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else -1.0

    def wait_for_cpus(self, count: int, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while self.cpus() != count:
            dead = [p.args for p in self.procs[1:] if p.poll() is not None]
            assert not dead, f"a Ray node exited: {dead[0][-12:]}; see {self.workdir}/*.log"
            assert time.monotonic() < deadline, f"Ray cluster did not reach {count} CPUs: see {self.workdir}/*.log"
            time.sleep(1)

    def listening(self) -> str:
        """`ss -ltnp` inside the cluster's namespace."""
        return subprocess.run(self.ns(["ss", "-ltnp"]), capture_output=True, text=True).stdout

    def stop(self) -> None:
        for pgid in reversed(self.groups):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while process_groups_alive(self.groups):
            assert time.monotonic() < deadline, f"Ray processes survived: {process_groups_alive(self.groups)}"
            time.sleep(0.2)
        for proc in self.procs:
            proc.wait(timeout=10)
        shutil.rmtree(self.temp, ignore_errors=True)
