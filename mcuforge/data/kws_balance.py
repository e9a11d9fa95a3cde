"""The keyword-spotting class mix of one split: silence and unknown shares, silence from noise.

After the speaker split, each split keeps every keyword window (fewer only when there are too few
unknown words for the share), a seeded random subset of its unknown windows, and gets generated
silence windows, so that unknown and silence make dataset.unknown_share and dataset.silence_share
of its windows. A silence window is a random stretch of one background-noise recording
(data/noise.npz) times a random volume in dataset.silence_volume, rounded to int16 PCM.
"""
from __future__ import annotations

import numpy as np

from mcuforge.data.kws_clips import to_float, to_int16
from mcuforge.errors import McuforgeError

SILENCE, UNKNOWN = 0, 1          # class indices: labels = [silence, unknown, *keywords]
SPLITS = ("train", "val", "test")


def is_kws(dataset: dict) -> bool:
    return "keywords" in dataset


def shares(dataset: dict) -> tuple[float, float]:
    u, s = dataset["unknown_share"], dataset["silence_share"]
    if not (0 <= u < 1 and 0 <= s < 1 and u + s < 1):
        raise McuforgeError(f"params.yaml: dataset.unknown_share={u} and dataset.silence_share={s} "
                            "must each be in [0, 1) with a sum below 1 (keywords get the rest)")
    return u, s


def target_counts(keywords: int, unknown: int, u: float, s: float) -> tuple[int, int, int]:
    """(keyword, unknown, silence) window counts meeting the shares with what the split has."""
    rest = 1.0 - u - s
    kept = keywords if u == 0 or unknown >= u * keywords / rest else int(np.floor(unknown * rest / u))
    total = kept / rest
    return kept, int(round(u * total)), int(round(s * total))


def silence_windows(noise: dict[str, np.ndarray], count: int, length: int, volume,
                    rng: np.random.Generator) -> np.ndarray:
    """(count, length, 1) float32 silence windows cut from the noise recordings."""
    names = sorted(noise)
    if count and not names:
        raise McuforgeError("no background noise for silence clips: data/noise.npz is empty; set "
                            "dataset.noise.colors (e.g. [white, pink, brown]) or add WAVs to "
                            "dataset.noise.folder, then rerun ingest")
    short = [n for n in names if len(noise[n]) < length]
    if short:
        raise McuforgeError(f"background noise {short} is shorter than one clip ({length} samples); "
                            "use longer recordings or a larger dataset.noise.seconds")
    out = np.zeros((count, length, 1), np.float32)
    for i in range(count):
        source = noise[names[rng.integers(len(names))]]
        start = rng.integers(len(source) - length + 1)
        gain = rng.uniform(*volume)
        out[i, :, 0] = to_float(to_int16(source[start:start + length] * gain))
    return out


def balance_split(arrays: dict, dataset: dict, noise: dict, split: str) -> dict:
    """A windowed split (windows, y, recording, subject) with the configured class mix."""
    u, s = shares(dataset)
    y = arrays["y"]
    keyword_rows, unknown_rows = np.flatnonzero(y > UNKNOWN), np.flatnonzero(y == UNKNOWN)
    if len(keyword_rows) == 0:
        raise McuforgeError(f"the {split} split has no keyword clips ({dataset['keywords']}); "
                            "check dataset.keywords and the split")
    rng = np.random.default_rng([int(dataset["silence_seed"]), SPLITS.index(split)])
    n_kw, n_unknown, n_silence = target_counts(len(keyword_rows), len(unknown_rows), u, s)
    keep = np.sort(np.concatenate([rng.choice(keyword_rows, n_kw, replace=False),
                                   rng.choice(unknown_rows, n_unknown, replace=False)]))
    length = arrays["windows"].shape[1]
    silence = silence_windows(noise, n_silence, length, dataset["silence_volume"], rng)
    ids = np.array([f"_silence/{split}/{i:05d}" for i in range(n_silence)], dtype=str)
    return {"windows": np.concatenate([arrays["windows"][keep], silence]),
            "y": np.concatenate([y[keep], np.full(n_silence, SILENCE, np.int32)]),
            "recording": np.concatenate([arrays["recording"][keep], ids]),
            "subject": np.concatenate([arrays["subject"][keep], np.full(n_silence, "_silence")])}


def class_mix(per_split: dict, labels: list[str]) -> dict:
    """{split: {label: windows, ..., shares: {label: fraction}}} for reports/features.json."""
    mix = {}
    for split, arrays in per_split.items():
        counts = np.bincount(arrays["y"], minlength=len(labels))
        total = max(int(counts.sum()), 1)
        mix[split] = {"windows": {label: int(c) for label, c in zip(labels, counts)},
                      "shares": {label: round(int(c) / total, 4) for label, c in zip(labels, counts)}}
    return mix
