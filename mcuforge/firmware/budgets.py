"""A board's budgets for the firmware, and the check that names the overflow.

    flash_budget, ram_budget = budgets(board)      # board size - the reserve for the application
    check_budget(board, flash, ram, stack)         # McuforgeError naming the overflow in bytes
"""
from __future__ import annotations

from mcuforge.errors import McuforgeError
from mcuforge.params import require


def budgets(board: dict) -> tuple[int, int]:
    return (int(require(board, "flash_bytes", "board")) - int(require(board, "reserve_flash_bytes", "board")),
            int(require(board, "ram_bytes", "board")) - int(require(board, "reserve_ram_bytes", "board")))


def check_budget(board: dict, flash: int, ram: int, stack: int | None, limits: tuple[int, int] | None = None,
                 what: str = "the firmware") -> None:
    """flash <= flash budget and ram (+ the measured stack, when known) <= RAM budget, else an error.
    limits: (flash, RAM) to check against; default budgets(board) = board size - reserve."""
    flash_budget, ram_budget = limits or budgets(board)
    over = []
    if flash > flash_budget:
        over.append(f"flash {flash} B > budget {flash_budget} B by {flash - flash_budget} B")
    used = ram + (stack or 0)
    if used > ram_budget:
        what_ram = f"RAM {ram} B" if stack is None else f"RAM {ram} B + stack {stack} B"
        over.append(f"{what_ram} > budget {ram_budget} B by {used - ram_budget} B")
    if over:
        basis = "board size - reserve" if limits is None else "the board's flash and RAM"
        raise McuforgeError(
            f"{what} does not fit board {board.get('name')} ({'; '.join(over)}; budget = {basis}): "
            f"lower prune.keep, choose a smaller model.student, or another board")
