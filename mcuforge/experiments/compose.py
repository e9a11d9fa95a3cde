"""Compose conf/ into params.yaml exactly as `dvc exp run` does (DVC's own Hydra helper).

    mcuforge compose [hydra overrides...]     e.g.  board=qemu_cortex_m3 prune.keep=0.3

Plain `dvc repro` reads only params.yaml, so run this after editing conf/ and commit the result.
"""
from __future__ import annotations

from pathlib import Path

from mcuforge.errors import McuforgeError

CONF_DIR = Path("conf")


def compose(output: str | Path = "params.yaml", overrides: list[str] | None = None,
            conf_dir: str | Path = CONF_DIR) -> None:
    from dvc.utils.hydra import compose_and_dump
    from hydra.errors import HydraException

    conf_dir = Path(conf_dir).resolve()
    if not (conf_dir / "config.yaml").exists():
        raise McuforgeError(f"{conf_dir}/config.yaml not found: run from the project root")
    try:
        compose_and_dump(output, str(conf_dir), None, "config", str(conf_dir), list(overrides or []))
    except HydraException as err:
        raise McuforgeError(f"conf/: {err}") from err
