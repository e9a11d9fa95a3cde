"""Source `watch`: the smartwatch IMU recordings shipped inside the pinned seglearn wheel.

140 recordings of 10 subjects, 6 channels (ax, ay, az, wx, wy, wz) at 50 Hz, one exercise
label per recording (Burns et al. 2018). The file is found without importing seglearn
(its __init__ imports scikit-learn) and must match the sha256 pinned in the config.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from mcuforge.errors import McuforgeError
from mcuforge.data.ingest.table import DatasetSpec, assemble, recording_frame

WATCH_FILE = Path("data") / "watch_dataset.npy"   # inside the seglearn package
WATCH_RATE_HZ = 50.0
FIX_HINT = "reinstall seglearn==1.2.5 (pinned in pyproject.toml) or update conf/dataset/watch.yaml"


def watch_file() -> Path:
    """Where the installed seglearn keeps watch_dataset.npy (seglearn itself is not imported)."""
    found = importlib.util.find_spec("seglearn")
    if found is None or not found.submodule_search_locations:
        raise McuforgeError(f"seglearn is not installed, so {WATCH_FILE.name} is missing; {FIX_HINT}")
    path = Path(list(found.submodule_search_locations)[0]) / WATCH_FILE
    if not path.is_file():
        raise McuforgeError(f"{path} not found; {FIX_HINT}")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_watch(spec: DatasetSpec) -> tuple[pd.DataFrame, list[str]]:
    """The watch recordings as a canonical table (ids r000…, s01…), plus findings."""
    path = watch_file()
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise McuforgeError(f"{path}: sha256 is {actual} but dataset.sha256 expects {spec.sha256}; "
                            f"{FIX_HINT}")
    data = np.load(path, allow_pickle=True).item()
    if list(spec.labels) != list(data["y_labels"]):
        raise McuforgeError(f"dataset.labels {list(spec.labels)} must equal the file's classes in "
                            f"index order {list(data['y_labels'])}; fix conf/dataset/watch.yaml")
    if len(spec.channels) != len(data["X_labels"]):
        raise McuforgeError(f"dataset.channels lists {len(spec.channels)} names but {path.name} has "
                            f"{len(data['X_labels'])} channels {list(data['X_labels'])}; fix "
                            "conf/dataset/watch.yaml")
    if spec.sample_rate_hz != WATCH_RATE_HZ:
        raise McuforgeError(f"dataset.sample_rate_hz is {spec.sample_rate_hz:g} but the watch data is "
                            f"sampled at {WATCH_RATE_HZ:g} Hz; fix conf/dataset/watch.yaml")

    frames = []
    for index, (samples, label_index, subject) in enumerate(zip(data["X"], data["y"], data["subject"])):
        time_s = np.arange(len(samples)) / spec.sample_rate_hz
        label = spec.labels[int(label_index)]
        frames.append(recording_frame(f"r{index:03d}", f"s{int(subject):02d}", time_s, samples,
                                      [label] * len(samples), spec.channels))
    findings = [f"channels {list(spec.channels)} are the file's {list(data['X_labels'])}, in order",
                "ignored the file's `side` field (which arm wore the watch)"]
    return assemble(frames, spec), findings
