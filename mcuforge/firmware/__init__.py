"""Device images: bare-metal builds and QEMU runs, Zephyr inputs and builds, board budgets."""
