"""Atomic writes, deterministic arrays, windowing, normalisation, int8 input quantisation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mcuforge import atomic
from mcuforge.arrays import load_arrays, save_arrays
from mcuforge.errors import McuforgeError
from mcuforge.data.normalization import fit_standardizer, standardize
from mcuforge.codegen.tflm_runtime import quantize_input
from mcuforge.data.windowing import make_windows, samples_per


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_saved_arrays_are_byte_identical_and_round_trip(tmp_path):
    arrays = {"x": np.arange(12, dtype=np.float32).reshape(3, 4), "names": np.array(["a", "bc"])}
    save_arrays(tmp_path / "one.npz", arrays)
    save_arrays(tmp_path / "two.npz", dict(reversed(list(arrays.items()))))
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    loaded = load_arrays(tmp_path / "one.npz")
    np.testing.assert_array_equal(loaded["x"], arrays["x"])
    assert loaded["names"].tolist() == ["a", "bc"]


def _table(runs):
    """runs: list of (recording, subject, label, n_samples)."""
    frames = []
    for recording, subject, label, n in runs:
        frames.append(pd.DataFrame({"recording": recording, "subject": subject,
                                    "time_s": np.arange(n) / 10.0, "a": np.arange(n, dtype=np.float32),
                                    "label": label}))
    return pd.concat(frames, ignore_index=True)


def test_windows_never_cross_recordings_or_label_changes():
    table = _table([("r1", "s1", "walk", 10), ("r1", "s1", "run", 5), ("r2", "s2", "walk", 7)])
    out = make_windows(table, ["a"], ["walk", "run"], window=4, stride=2)
    # r1/walk: starts 0,2,4,6 (4 windows); r1/run: start 0 (1); r2/walk: starts 0,2 (2)
    assert out["windows"].shape == (7, 4, 1)
    assert out["y"].tolist() == [0, 0, 0, 0, 1, 0, 0]
    assert out["recording"].tolist() == ["r1"] * 5 + ["r2"] * 2
    np.testing.assert_array_equal(out["windows"][4, :, 0], [0, 1, 2, 3])  # the run part restarts at 0


def test_window_length_must_be_whole_samples():
    assert samples_per(2000, 50, "window_ms") == 100
    with pytest.raises(McuforgeError, match=r"features.window_ms=2010 .* multiple of 20 ms"):
        samples_per(2010, 50, "window_ms")


def test_standardizer_fits_per_channel_and_survives_constant_channels():
    train = np.stack([np.full((5, 2), [1.0, 3.0]) + np.arange(5)[:, None] * [1.0, 0.0]] * 3).astype(np.float32)
    scaler = fit_standardizer(train)
    np.testing.assert_allclose(scaler["mean"], [3.0, 3.0])
    assert scaler["std"][1] == 1.0
    out = standardize(train, scaler)
    assert out.dtype == np.float32 and np.all(out[..., 1] == 0)


def test_quantize_input_rounds_half_away_from_zero_and_saturates():
    x = np.array([0.5, -0.5, 1.5, -1.5, 1000.0, -1000.0], np.float32)
    assert quantize_input(x, 1.0, 0).tolist() == [1, -1, 2, -2, 127, -128]
    assert quantize_input(np.array([0.25], np.float32), 0.5, -3).tolist() == [-2]
