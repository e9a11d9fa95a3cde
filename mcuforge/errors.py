"""One error type for bad input, and the entry-point wrapper that turns it into one clear line."""
from __future__ import annotations

import functools
import sys


class McuforgeError(Exception):
    """Bad input or configuration. The message names the file, field or value and the fix."""


def stage_main(func):
    """Run a stage's main() or a CLI command: an McuforgeError becomes `error: <message>` on stderr, exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except McuforgeError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
