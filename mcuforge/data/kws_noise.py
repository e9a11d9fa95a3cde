"""Background noise for `silence` clips and noise augmentation: the user's recordings, or generated.

Generated noise mimics Speech Commands' synthetic `_background_noise_` files: white (flat
spectrum), pink (power ∝ 1/f) and brown (power ∝ 1/f²) noise, shaped from seeded Gaussian noise
in the frequency domain and scaled to `rms_dbfs` (dB relative to int16 full scale). Same config →
same int16 samples.
"""
from __future__ import annotations

import numpy as np

from mcuforge.data.kws_clips import to_int16

SLOPE = {"white": 0.0, "pink": 0.5, "brown": 1.0}   # amplitude ∝ f^-slope


def colored_noise(color: str, samples: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean noise of the given colour with unit RMS (float64)."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    freqs = np.fft.rfftfreq(samples)
    gain = np.zeros_like(freqs)
    gain[1:] = freqs[1:] ** -SLOPE[color]
    noise = np.fft.irfft(spectrum * gain, n=samples)
    return noise / np.sqrt(np.mean(noise ** 2))


def generate_noise(cfg: dict, rate_hz: int) -> dict[str, np.ndarray]:
    """{colour: int16 PCM} of cfg["seconds"] each, seeded by cfg["seed"] (one stream per colour)."""
    samples = int(round(cfg["seconds"] * rate_hz))
    rms = 32768.0 * 10 ** (cfg["rms_dbfs"] / 20)
    out = {}
    for index, color in enumerate(cfg["colors"]):
        rng = np.random.default_rng([cfg["seed"], index])
        out[color] = to_int16(colored_noise(color, samples, rng) * rms)
    return out
