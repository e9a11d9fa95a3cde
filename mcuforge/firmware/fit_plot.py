"""The firmware's fit to its board as plot data: one row per run, drawn across experiments.

Columns: flash_bytes and ram_bytes of the deployable image (stack_bytes measured apart), the
accuracy on the device (every test window through the image under QEMU), the board's flash and
RAM budgets (size - reserve), board and cpu. Sizes and accuracy are empty cells when the stage
could not build or run the image for the board's core (e.g. esp32 here).
"""
from __future__ import annotations

import os

from mcuforge import atomic

COLUMNS = ("flash_bytes", "ram_bytes", "stack_bytes", "accuracy", "flash_budget", "ram_budget", "board", "cpu")


def fit_row(report: dict) -> dict:
    """The row for a firmware report (reports/firmware.json's keys)."""
    qemu = report.get("qemu") or {}
    return {"flash_bytes": report.get("flash_bytes"), "ram_bytes": report.get("ram_bytes"),
            "stack_bytes": report.get("stack_bytes"), "accuracy": qemu.get("device_accuracy"),
            "flash_budget": report["flash_budget"], "ram_budget": report["ram_budget"],
            "board": report["board"], "cpu": report["cpu"]}


def write_fit_plot(path: str | os.PathLike, report: dict) -> None:
    atomic.write_csv(path, COLUMNS, [fit_row(report)])
