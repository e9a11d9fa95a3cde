"""Read the composed params.yaml (what `dvc repro` and every stage see)."""
from __future__ import annotations

from pathlib import Path

import yaml

from mcuforge.errors import McuforgeError

PARAMS_FILE = Path("params.yaml")


def load_params(path: str | Path = PARAMS_FILE) -> dict:
    path = Path(path)
    if not path.exists():
        raise McuforgeError(f"{path} not found: run from the project root, or compose it with "
                            "`mcuforge compose`")
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def require(section: dict, key: str, where: str):
    """section[key], or an error naming the missing dotted key."""
    if key not in section:
        raise McuforgeError(f"params.yaml: missing `{where}.{key}`; add it to conf/ and recompose")
    return section[key]
