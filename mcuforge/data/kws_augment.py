"""Train-split audio augmentation (conf/augment/audio.yaml), seeded and deterministic.

Each of `copies` extra versions of a clip is: played faster or slower by a factor in `speed`
(linear interpolation about the clip centre), shifted by up to ±shift_ms (zero-filled), scaled by
a gain in `gain_db`, and, with probability `noise_prob`, mixed with a random stretch of background
noise at an SNR in `snr_db` (silence clips, being noise already, get none). The result is rounded
to int16 PCM (clipped), so every augmented window is an int16 clip like the recorded ones.
"""
from __future__ import annotations

import numpy as np

from mcuforge.data.augment import with_copies
from mcuforge.data.kws_balance import SILENCE
from mcuforge.data.kws_clips import to_float, to_int16
from mcuforge.errors import McuforgeError


def speed_change(x: np.ndarray, factor: float) -> np.ndarray:
    centre = (len(x) - 1) / 2
    positions = centre + (np.arange(len(x)) - centre) * factor
    return np.interp(positions, np.arange(len(x)), x, left=0.0, right=0.0)


def time_shift(x: np.ndarray, shift: int) -> np.ndarray:
    out = np.zeros_like(x)
    if shift >= 0:
        out[shift:] = x[:len(x) - shift]
    else:
        out[:shift] = x[-shift:]
    return out


def augment_clip(x: np.ndarray, draw: dict, noise: np.ndarray | None) -> np.ndarray:
    """One augmented copy of int16-valued samples `x` (float64), before rounding."""
    out = time_shift(speed_change(x, draw["speed"]), draw["shift"]) * draw["gain"]
    if noise is not None:
        power = np.mean(out ** 2)
        noise_power = np.mean(noise ** 2)
        if power > 0 and noise_power > 0:
            out = out + noise * np.sqrt(power / (noise_power * 10 ** (draw["snr_db"] / 10)))
    return out


def augment_audio_windows(windows: np.ndarray, y: np.ndarray, noise: dict[str, np.ndarray],
                          cfg: dict, rate_hz: float) -> np.ndarray:
    """(N, T, 1) float32 clips → (copies·N, T, 1) float32 augmented int16-valued clips."""
    rng = np.random.default_rng(cfg["seed"])
    names = sorted(noise)
    length = windows.shape[1]
    max_shift = int(round(cfg["shift_ms"] * rate_hz / 1000))
    if cfg["noise_prob"] > 0 and not any(len(noise[n]) >= length for n in names):
        raise McuforgeError("augment.noise_prob > 0 but data/noise.npz has no noise recording of "
                            f"at least {length} samples; set augment.noise_prob: 0 or add noise")
    out = []
    for _ in range(cfg["copies"]):
        for clip, label in zip(windows[:, :, 0], y):
            draw = {"speed": rng.uniform(*cfg["speed"]), "shift": int(rng.integers(-max_shift, max_shift + 1)),
                    "gain": 10 ** (rng.uniform(*cfg["gain_db"]) / 20), "snr_db": rng.uniform(*cfg["snr_db"])}
            segment = None
            if rng.random() < cfg["noise_prob"] and label != SILENCE:
                source = noise[names[rng.integers(len(names))]]
                start = int(rng.integers(len(source) - length + 1))
                segment = source[start:start + length].astype(np.float64)
            pcm = augment_clip(clip.astype(np.float64) * 32768.0, draw, segment)
            out.append(to_float(to_int16(pcm)))
    return np.asarray(out, np.float32).reshape(-1, length, 1)


def augment_audio_split(arrays: dict, noise: dict, cfg: dict, rate_hz: float) -> dict:
    """A balanced train split plus its augmented copies (`augmented` marks them)."""
    if cfg["copies"] and cfg.get("kind") != "audio":
        raise McuforgeError(f"params.yaml: augment has no `kind: audio` ({sorted(cfg)}), but the "
                            "dataset is audio; use `-S augment=audio` (or augment=none)")
    extra = (augment_audio_windows(arrays["windows"], arrays["y"], noise, cfg, rate_hz)
             if cfg["copies"] else arrays["windows"][:0])
    return with_copies(arrays, extra, cfg["copies"])
