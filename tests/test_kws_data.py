"""KWS data: per-split silence/unknown balance, fixed-length clips, audio augmentation, and the
ingest → split → features chain on a tiny FSDD slice (class mix per split in the report)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from conftest import ROOT, tool_env
from mcuforge.data.kws_augment import augment_audio_split, speed_change, time_shift
from mcuforge.data.kws_balance import balance_split, class_mix
from mcuforge.data.kws_clips import fit_clip
from mcuforge.data.kws_noise import generate_noise
from mcuforge.errors import McuforgeError
from mcuforge.experiments.compose import compose

LABELS = ["silence", "unknown", "yes", "no"]
DATASET = {"keywords": ["yes", "no"], "labels": LABELS, "unknown_share": 0.25,
           "silence_share": 0.25, "silence_volume": [0.0, 1.0], "silence_seed": 0}
AUDIO = {"kind": "audio", "copies": 2, "shift_ms": 10.0, "speed": [0.9, 1.1], "gain_db": [-6.0, 6.0],
         "noise_prob": 0.8, "snr_db": [5.0, 20.0], "seed": 0}
NOISE = generate_noise({"colors": ["white", "brown"], "seconds": 0.5, "rms_dbfs": -20.0, "seed": 0}, 8000)


def windows(counts: dict[int, int], length: int = 400, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, k, np.int32) for k, n in counts.items()])
    pcm = np.round(rng.standard_normal((len(y), length, 1)) * 2000).astype(np.float32)
    return {"windows": pcm / 32768, "y": y, "recording": np.array([f"r{i}" for i in range(len(y))]),
            "subject": np.full(len(y), "s1")}


def is_int16_pcm(x: np.ndarray) -> bool:
    return bool(np.array_equal(x * 32768, np.round(x * 32768)) and np.abs(x * 32768).max() <= 32768)


@pytest.mark.parametrize("u, s", [(0.25, 0.25), (0.1, 0.3), (0.0, 0.5)])
def test_balance_keeps_keywords_and_meets_the_shares(u, s):
    arrays = windows({2: 30, 3: 30, 1: 100})
    out = balance_split(arrays, {**DATASET, "unknown_share": u, "silence_share": s}, NOISE, "val")
    counts = np.bincount(out["y"], minlength=4)
    assert counts[2] == counts[3] == 30                      # every keyword clip kept
    assert counts[1] == round(u * 60 / (1 - u - s)) and counts[0] == round(s * 60 / (1 - u - s))
    assert abs(counts[1] / counts.sum() - u) < 0.01 and abs(counts[0] / counts.sum() - s) < 0.01
    kept = set(out["recording"][out["y"] > 0])
    assert kept <= set(arrays["recording"]) and is_int16_pcm(out["windows"])


def test_too_few_unknown_words_drop_keywords_not_the_share():
    out = balance_split(windows({2: 40, 3: 40, 1: 10}), DATASET, NOISE, "train")
    counts = np.bincount(out["y"], minlength=4)
    assert counts[1] == 10 and counts[2] + counts[3] == 20 and counts[0] == 10


def test_balance_and_silence_are_deterministic_and_differ_per_split():
    arrays = windows({2: 20, 3: 20, 1: 50})
    a, b = (balance_split(arrays, DATASET, NOISE, "train") for _ in range(2))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    other = balance_split(arrays, DATASET, NOISE, "test")
    silence = a["windows"][a["y"] == 0]
    assert not np.array_equal(silence, other["windows"][other["y"] == 0])
    assert len({w.tobytes() for w in silence}) == len(silence) and np.abs(silence).max() > 0
    mix = class_mix({"train": a}, LABELS)["train"]
    assert mix["shares"]["silence"] == mix["shares"]["unknown"] == 0.25


def test_bad_shares_and_missing_noise_are_clear_errors():
    arrays = windows({2: 10, 1: 10})
    with pytest.raises(McuforgeError, match="unknown_share=0.6 and dataset.silence_share=0.5"):
        balance_split(arrays, {**DATASET, "unknown_share": 0.6, "silence_share": 0.5}, NOISE, "val")
    with pytest.raises(McuforgeError, match="no background noise"):
        balance_split(arrays, DATASET, {}, "val")


def test_fit_clip_centres_the_energy_and_pads_or_trims():
    burst = np.zeros(3000, np.int16)
    burst[1500:1600] = 1000
    out = fit_clip(burst, 1000)
    assert len(out) == 1000 and np.flatnonzero(out).tolist() == list(range(450, 550))
    late = np.roll(burst, 1000)                               # burst at 2500..2599: near the end
    assert np.array_equal(fit_clip(late, 1000), late[2000:])  # cannot centre past the end: clamped
    short = fit_clip(np.full(10, 7, np.int16), 100)
    assert np.flatnonzero(short).tolist() == list(range(45, 55))


def test_audio_augmentation_is_seeded_int16_and_spares_silence_from_noise():
    arrays = balance_split(windows({2: 8, 3: 8, 1: 20}), DATASET, NOISE, "train")
    out = augment_audio_split(arrays, NOISE, AUDIO, 8000)
    again = augment_audio_split(arrays, NOISE, AUDIO, 8000)
    n = len(arrays["y"])
    assert len(out["y"]) == 3 * n and out["augmented"].sum() == 2 * n
    assert np.array_equal(out["windows"], again["windows"]) and is_int16_pcm(out["windows"])
    assert np.array_equal(out["windows"][:n], arrays["windows"])
    assert not np.array_equal(out["windows"][n:2 * n], arrays["windows"])
    quiet = {**AUDIO, "copies": 1, "shift_ms": 0.0, "speed": [1.0, 1.0], "gain_db": [0.0, 0.0]}
    same = augment_audio_split(arrays, NOISE, {**quiet, "noise_prob": 0.0}, 8000)
    assert np.array_equal(same["windows"][n:], arrays["windows"])       # identity when all off
    noisy = augment_audio_split(arrays, NOISE, {**quiet, "noise_prob": 1.0, "snr_db": [10.0, 10.0]}, 8000)
    added = (noisy["windows"][n:] - arrays["windows"]).astype(np.float64)
    silence = arrays["y"] == 0
    assert np.abs(added[silence]).max() == 0
    snr = 10 * np.log10((arrays["windows"][~silence] ** 2).mean((1, 2)) / (added[~silence] ** 2).mean((1, 2)))
    assert np.allclose(snr, 10.0, atol=0.2)
    with pytest.raises(McuforgeError, match="augment=audio"):
        augment_audio_split(arrays, NOISE, {"copies": 3, "rotate_deg": 30.0, "scale": 0.1, "seed": 0}, 8000)


def test_speed_and_shift_move_the_signal():
    x = np.zeros(101)
    x[70] = 1.0
    assert np.argmax(time_shift(x, 5)) == 75 and np.argmax(time_shift(x, -5)) == 65
    assert np.argmax(speed_change(x, 0.5)) == 90           # slower: away from the centre (50)
    assert np.array_equal(speed_change(x, 1.0), x)


def test_tiny_fsdd_through_ingest_split_features(tmp_path, tiny_fsdd):
    overrides = [*tiny_fsdd["overrides"], "features=raw", "features.window_ms=1000",
                 "features.stride_ms=1000"]
    compose(tmp_path / "params.yaml", overrides, ROOT / "conf")
    for stage in ("ingest", "split", "features"):
        proc = subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=tmp_path, env=tool_env(),
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "reports/features.json").read_text())
    split = json.loads((tmp_path / "reports/split.json").read_text())
    assert sum(c["groups"] for c in split["counts"].values()) == 6          # speakers
    for name, mix in report["class_mix"].items():
        assert mix["shares"]["silence"] == mix["shares"]["unknown"] == 0.25, name
        assert len(set(mix["windows"][k] for k in ["zero", "one", "two", "three", "four", "five"])) == 1
    copies = yaml.safe_load((tmp_path / "params.yaml").read_text())["augment"]["copies"]
    assert copies >= 1
    assert report["augmented_train_windows"] == copies * sum(report["class_mix"]["train"]["windows"].values())
    assert report["windows"]["test"] == sum(report["class_mix"]["test"]["windows"].values())
