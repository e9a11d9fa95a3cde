"""The features stage on a tiny synthetic split table: both blocks, train-only normalisation,
augmentation of the train split only, and a clear error for windows that fit nowhere."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, tool_env
from mcuforge.arrays import load_arrays
from mcuforge.data.augment import augment_windows, channel_groups
from mcuforge.experiments.compose import compose
from mcuforge.errors import McuforgeError

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]


def tiny_split_table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for split, subjects in (("train", ["s1", "s2"]), ("val", ["s3"]), ("test", ["s4"])):
        for subject in subjects:
            for label in ("PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"):
                n = 250
                values = rng.normal(size=(n, 6)).astype(np.float32) + (5.0 if split == "train" else 0.0)
                frame = pd.DataFrame(values, columns=CHANNELS)
                frame.insert(0, "time_s", np.arange(n) / 50.0)
                frame.insert(0, "subject", subject)
                frame.insert(0, "recording", f"{subject}-{label}")
                frame["label"] = label
                frame["split"] = split
                frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def run_features(tmp_path, overrides):
    (tmp_path / "data").mkdir(exist_ok=True)
    tiny_split_table().to_parquet(tmp_path / "data/split.parquet")
    compose(tmp_path / "params.yaml", overrides, ROOT / "conf")
    return subprocess.run([sys.executable, "-m", "stages.features"], cwd=tmp_path, env=tool_env(),
                          capture_output=True, text=True)


@pytest.mark.parametrize("block,shape", [("raw", [100, 6]), ("spectral", [6 * (3 + 6)])])
def test_features_stage_writes_standardised_splits(tmp_path, block, shape):
    proc = run_features(tmp_path, [f"features={block}", "augment.copies=2"])
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "data/features/normalization.json").read_text())
    assert meta["input_shape"] == shape and meta["block"] == block
    train = load_arrays(tmp_path / "data/features/train.npz")
    test = load_arrays(tmp_path / "data/features/test.npz")
    recorded = ~train["augmented"]
    assert train["augmented"].sum() == 2 * recorded.sum()
    assert not any("augmented" in k for k in test) and "windows" in test
    axes = tuple(range(train["x"].ndim - 1))
    # fitted on the recorded train windows: they are centred, the shifted test split is not
    np.testing.assert_allclose(train["x"][recorded].mean(axis=axes), 0, atol=1e-4)
    if block == "raw":
        assert np.all(test["x"].mean(axis=axes) < -3)


def test_window_longer_than_every_recording_is_a_clear_error(tmp_path):
    proc = run_features(tmp_path, ["features.window_ms=6000"])
    assert proc.returncode == 2
    assert "features.window_ms=6000" in proc.stderr and "lower" in proc.stderr
    assert not (tmp_path / "data/features").exists()


def test_augmentation_rotates_each_vector_group_rigidly():
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(8, 20, 6)).astype(np.float32)
    groups = channel_groups(CHANNELS, [CHANNELS[:3], CHANNELS[3:]])
    out = augment_windows(windows, groups, {"copies": 1, "rotate_deg": 30.0, "scale": 0.0, "seed": 0})
    assert out.shape == windows.shape
    for group in groups:  # rotation keeps every 3-axis vector's length
        np.testing.assert_allclose(np.linalg.norm(out[..., group], axis=-1),
                                   np.linalg.norm(windows[..., group], axis=-1), rtol=1e-5)
    assert not np.allclose(out, windows)
    again = augment_windows(windows, groups, {"copies": 1, "rotate_deg": 30.0, "scale": 0.0, "seed": 0})
    assert out.tobytes() == again.tobytes()


def test_vector_groups_must_name_three_known_channels():
    with pytest.raises(McuforgeError, match=r"dataset.vector_groups: \['acc_x', 'acc_y', 'mag_z'\]"):
        channel_groups(CHANNELS, [["acc_x", "acc_y", "mag_z"]])
