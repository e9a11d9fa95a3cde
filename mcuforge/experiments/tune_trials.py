"""One tuner trial = one named DVC experiment, run locally; and what it measured, from `dvc exp show`.

    code = run_local(root, name, overrides, log)      # `dvc --wait-for-lock exp run --temp --name ...`
    result = measure(root, name, board, log)           # objectives + constraints, or None (failed)

The dvc process runs in its own process group: SIGINT/SIGTERM to the tuner stops the whole group
(dvc and the stage it runs), so no process outlives `mcuforge tune`. An over-budget image makes the
firmware stage fail with the overflow in bytes (mcuforge.firmware.budgets.check_budget); DVC keeps no
failed experiment, so those bytes are read from the trial's log: the trial is infeasible, not failed.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mcuforge.experiments import best, ranking
from mcuforge.experiments.dvc_cli import dvc_env, exp_show
from mcuforge.experiments.runs import experiment_rows
from mcuforge.firmware.budgets import budgets

OVER_FLASH = re.compile(r"does not fit board .*?flash (\d+) B > budget (\d+) B by (\d+) B")
OVER_RAM = re.compile(r"does not fit board .*?RAM (\d+) B(?: \+ stack (\d+) B)? > budget (\d+) B by (\d+) B")


@dataclass(frozen=True)
class Result:
    accuracy: float | None     # None: not measured (the image was refused as over budget)
    flash: int | None
    ram: int | None            # static RAM + measured stack
    latency_ms: float | None
    flash_over: int            # bytes over the budget (0 = within)
    ram_over: int
    accuracy_source: str = ""

    @property
    def feasible(self) -> bool:
        return self.flash_over <= 0 and self.ram_over <= 0


def run_local(root: Path, name: str, overrides: list[str], log: Path) -> int:
    """`dvc exp run --temp --name NAME -S ...` in root, output to log; its exit code."""
    args = [sys.executable, "-m", "dvc", "--wait-for-lock", "exp", "run", "--temp", "--name", name]
    for override in overrides:
        args += ["-S", override]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(args, cwd=root, env=dvc_env(), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            return proc.wait()
        except BaseException:
            stop_group(proc)
            raise


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after 20 s; waits until the leader is gone."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            os.killpg(proc.pid, signal.SIGKILL)   # stragglers of the group
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def experiment_result(root: Path, name: str, board: dict) -> Result | str | None:
    """The finished experiment NAME's measures against board's budget, why it is not usable, or None
    when no experiment has that name."""
    rows = [r for r in experiment_rows(exp_show(root)) if r.kind == "experiment" and r.name == name]
    if not rows:
        return None
    found = best.entry(rows[0], name, str(board["cpu"]))
    if isinstance(found, str):
        return found
    c = found.candidate
    flash_budget, ram_budget = budgets(board)
    return Result(c.accuracy, c.flash, c.ram, ranking.latency_ms(c.instructions, int(board["clock_hz"])),
                  max(0, c.flash - flash_budget), max(0, c.ram - ram_budget), found.accuracy_source)


def over_budget(log_text: str) -> Result | None:
    """The firmware stage's refusal in a trial's log, as an infeasible result (None: no refusal)."""
    flash, ram = OVER_FLASH.search(log_text), OVER_RAM.search(log_text)
    if not flash and not ram:
        return None
    ram_used = int(ram.group(1)) + int(ram.group(2) or 0) if ram else None
    return Result(None, int(flash.group(1)) if flash else None, ram_used, None,
                  int(flash.group(3)) if flash else 0, int(ram.group(4)) if ram else 0)
