"""Cut recordings into fixed-length windows, never across a recording or a label change."""
from __future__ import annotations

import numpy as np
import pandas as pd

from mcuforge.errors import McuforgeError


def samples_per(ms: float, sample_rate_hz: float, field: str) -> int:
    """Milliseconds → whole samples, or an error naming the field."""
    samples = ms * sample_rate_hz / 1000.0
    if samples < 1 or abs(samples - round(samples)) > 1e-9:
        raise McuforgeError(f"features.{field}={ms} ms is not a whole number of samples at "
                            f"{sample_rate_hz} Hz; use a multiple of {1000.0 / sample_rate_hz:g} ms")
    return int(round(samples))


def make_windows(table: pd.DataFrame, channels: list[str], labels: list[str],
                 window: int, stride: int) -> dict[str, np.ndarray]:
    """Windows of `window` samples every `stride` samples inside each run of one label of one recording.

    Returns `windows` (N, window, C) float32, `y` (N,) int32 class index, `recording` and `subject`
    (N,) str — in the table's recording order, then time order.
    """
    class_index = {name: i for i, name in enumerate(labels)}
    values = table[channels].to_numpy(np.float32)
    runs = (table["recording"] != table["recording"].shift()) | (table["label"] != table["label"].shift())
    starts = np.flatnonzero(runs.to_numpy())
    ends = np.append(starts[1:], len(table))
    out = {"windows": [], "y": [], "recording": [], "subject": []}
    for start, end in zip(starts, ends):
        row = table.iloc[start]
        for offset in range(start, end - window + 1, stride):
            out["windows"].append(values[offset:offset + window])
            out["y"].append(class_index[row["label"]])
            out["recording"].append(str(row["recording"]))
            out["subject"].append(str(row["subject"]))
    n_channels = len(channels)
    return {
        "windows": np.asarray(out["windows"], np.float32).reshape(-1, window, n_channels),
        "y": np.asarray(out["y"], np.int32),
        "recording": np.asarray(out["recording"], dtype=str),
        "subject": np.asarray(out["subject"], dtype=str),
    }
