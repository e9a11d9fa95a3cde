"""Named numpy arrays in one .npz file with deterministic bytes (numpy's savez stamps the clock).

Same arrays → same file, so DVC sees no change and downstream stages stay cached.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from mcuforge.atomic import atomic_path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
