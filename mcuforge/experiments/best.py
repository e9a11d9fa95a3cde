"""Best under budget: the most accurate experiment that fits a board, from `dvc exp show --json`.

    mcuforge best --board nrf52840dk [--max-latency-ms 25] [--all-commits] [--apply]

Reads every finished experiment of the HEAD baseline (all commits with --all-commits), the baseline
itself and the workspace (when it differs from the baseline). Per row: accuracy = the device
accuracy (reports/firmware.json qemu.device_accuracy, the int8 model on the board's core under
QEMU), else the int8 accuracy on tflite_micro (reports/quantize.json); flash = flash_bytes, RAM =
ram_bytes + stack_bytes of the deployable image; latency = qemu.instructions_per_inference / the
board's clock_hz (an estimate: instructions, not cycles). The budget is the requested board's,
from conf/board/<board>.yaml, computed by mcuforge.firmware.budgets (board size - reserve), as the firmware
stage checks it.

Only experiments built for the requested board's core (board.cpu) are compared: image sizes and
instruction counts belong to the core they were compiled for. A build for another board with the
same core (nrf52840dk and arduino_nano_33_ble) is compared against the requested board's budget;
other cores are listed as not compared. Prints a ranked table (fits / over budget by how many
bytes, `*` on the Pareto front of accuracy vs flash and RAM) and the pick; --apply runs
`dvc exp apply` on it. Exit 2 when nothing fits.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from mcuforge.experiments import ranking
from mcuforge.firmware.budgets import budgets
from mcuforge.experiments.dvc_cli import exp_show, run_dvc
from mcuforge.errors import McuforgeError
from mcuforge.experiments.runs import ExperimentRow, experiment_rows

BOARDS_DIR = Path("conf/board")


@dataclass(frozen=True)
class Entry:
    row: ExperimentRow
    candidate: ranking.Candidate
    built_for: str
    accuracy_source: str     # "device" (QEMU) or "int8" (tflite_micro)


def load_board(name: str, boards_dir: Path = BOARDS_DIR) -> dict:
    path = boards_dir / f"{name}.yaml"
    if not path.exists():
        options = ", ".join(sorted(p.stem for p in boards_dir.glob("*.yaml"))) or "none"
        raise McuforgeError(f"--board {name}: {path} not found; boards in {boards_dir}/: {options}")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def entry(row: ExperimentRow, label: str, cpu: str) -> Entry | str:
    """The row as a candidate for a board with this cpu, or why it is not compared."""
    if not row.finished:
        return f"{row.state}, no results"
    built_cpu = row.metric("firmware", "cpu", row.param("board.cpu"))
    if built_cpu != cpu:
        return f"built for {built_cpu}, not {cpu}"
    flash, ram = row.metric("firmware", "flash_bytes"), row.metric("firmware", "ram_bytes")
    if flash is None or ram is None:
        return "no firmware sizes in reports/firmware.json"
    accuracy, source = row.metric("firmware", "qemu.device_accuracy"), "device"
    if accuracy is None:
        accuracy, source = row.metric("quantize", "test_accuracy_int8"), "int8"
    if accuracy is None:
        return "no accuracy in reports/firmware.json or reports/quantize.json"
    stack = row.metric("firmware", "stack_bytes") or 0
    candidate = ranking.Candidate(label, float(accuracy), int(flash), int(ram) + int(stack),
                                  row.metric("firmware", "qemu.instructions_per_inference"))
    return Entry(row, candidate, str(row.metric("firmware", "board", row.param("board.name"))), source)


def comparable_rows(rows: list[ExperimentRow]) -> list[ExperimentRow]:
    """All rows but a workspace identical to a baseline (the usual, clean workspace)."""
    baselines = [(r.params, r.metrics) for r in rows if r.kind == "baseline"]
    return [r for r in rows if r.kind != "workspace" or (r.params, r.metrics) not in baselines]


def labels(rows: list[ExperimentRow]) -> list[str]:
    names = [r.name for r in rows]
    return [r.name if names.count(r.name) == 1 else f"{r.name}@{r.rev[:7]}" for r in rows]


def table(ranked: list[ranking.Ranked], entries: dict[str, Entry]) -> str:
    head = ["#", "experiment", "built for", "accuracy", "flash B", "RAM+stack B", "latency ms", "budget", "pareto"]
    body = []
    for i, r in enumerate(ranked, 1):
        c, e = r.candidate, entries[r.candidate.name]
        over = [f"{what} +{amount:,} B" for what, amount in (("flash", r.flash_over), ("RAM", r.ram_over)) if amount]
        if r.latency_over_ms:
            over.append(f"latency +{r.latency_over_ms:.2f} ms")
        body.append([str(i), c.name, e.built_for, f"{c.accuracy:.4f} {e.accuracy_source}", f"{c.flash:,}",
                     f"{c.ram:,}", "?" if r.latency_ms is None else f"{r.latency_ms:.2f}",
                     "fits" if r.fits else "over: " + ", ".join(over), "*" if r.pareto else ""])
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    right = {0, 4, 5, 6}
    return "\n".join("  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                               for i, (cell, w) in enumerate(zip(line, widths))).rstrip()
                     for line in [head, *body])


def apply(chosen: Entry, cwd: Path) -> str:
    if chosen.row.kind != "experiment":
        return f"nothing to apply: {chosen.candidate.name} is the {chosen.row.kind}"
    run_dvc(["exp", "apply", chosen.row.rev], cwd)
    return f"applied {chosen.candidate.name} (dvc exp apply {chosen.row.rev[:7]}): its params.yaml, " \
           f"dvc.lock and outputs are in the workspace"


def pick_best(board_name: str, max_latency_ms: float | None = None, all_commits: bool = False,
              apply_pick: bool = False, cwd: Path | None = None) -> None:
    """Print the ranked table for board_name and the pick; `dvc exp apply` it with apply_pick."""
    cwd = Path.cwd() if cwd is None else cwd
    board = load_board(board_name)
    cpu, clock_hz = str(board["cpu"]), int(board["clock_hz"])
    flash_budget, ram_budget = budgets(board)
    budget = ranking.Budget(flash_budget, ram_budget, clock_hz, max_latency_ms)
    rows = comparable_rows(experiment_rows(exp_show(cwd, all_commits)))
    entries, skipped = {}, []
    for row, label in zip(rows, labels(rows)):
        found = entry(row, label, cpu)
        if isinstance(found, str):
            skipped.append(f"{label} ({found})")
        else:
            entries[label] = found
    ranked = ranking.rank([e.candidate for e in entries.values()], budget)
    limit = "" if max_latency_ms is None else f", latency <= {max_latency_ms:g} ms"
    print(f"board {board_name}: {cpu} at {clock_hz / 1e6:g} MHz; budget flash {flash_budget:,} B, "
          f"RAM {ram_budget:,} B (board size - reserve){limit}")
    if ranked:
        print(table(ranked, entries))
        print("accuracy: device = int8 model on the core under QEMU, int8 = tflite_micro; RAM includes the "
              "measured stack; latency = instructions per inference / clock: an estimate (instructions, not "
              "cycles); * = Pareto front (accuracy up, flash down, RAM down)")
    if skipped:
        print("not compared: " + "; ".join(skipped))
    chosen = ranking.best(ranked)
    if chosen is None:
        raise McuforgeError(f"no experiment fits board {board_name} ({len(ranked)} compared): raise "
                            f"prune.keep (prune=channels), choose a smaller model.student, relax --max-latency-ms or another board")
    print(f"best: {chosen.candidate.name}")
    if apply_pick:
        print(apply(entries[chosen.candidate.name], cwd))

