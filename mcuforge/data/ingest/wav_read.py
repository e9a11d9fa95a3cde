"""Read one WAV file as int16 PCM (the stdlib `wave` module), refusing what the chain cannot use.

Supported: uncompressed PCM, 16-bit signed or 8-bit unsigned (scaled to 16 bits exactly). Every
other case is one McuforgeError naming the file and the fix: empty or truncated files, unreadable
headers, other sample formats (24/32-bit, float, A-law, ADPCM...), more channels than configured.
A different sample rate is resampled (scipy's polyphase resampler) or refused, as configured.
"""
from __future__ import annotations

import wave
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from mcuforge.data.kws_clips import to_int16
from mcuforge.errors import McuforgeError

CONVERT = "convert it to 16-bit PCM mono, e.g. `sox {name} -b 16 -c 1 fixed.wav`"


def read_wav(path: Path, rate_hz: int, resample: bool) -> np.ndarray:
    """The mono int16 samples of `path` at `rate_hz` (resampled if `resample`, else refused)."""
    pcm, rate = decode_wav(path)
    if rate == rate_hz:
        return pcm
    if not resample:
        raise McuforgeError(f"{path}: sampled at {rate} Hz but dataset.sample_rate_hz is {rate_hz}; "
                            f"set dataset.resample: true to resample it, or "
                            f"{CONVERT.format(name=path.name)} -r {rate_hz}")
    return resample_pcm(pcm, rate, rate_hz)


def resample_pcm(pcm: np.ndarray, rate: int, rate_hz: int) -> np.ndarray:
    """int16 PCM from `rate` to `rate_hz` Hz (polyphase, Kaiser window), rounded and clipped to int16."""
    common = gcd(int(rate), int(rate_hz))
    out = resample_poly(pcm.astype(np.float64), int(rate_hz) // common, int(rate) // common)
    return to_int16(out)


def decode_wav(path: Path) -> tuple[np.ndarray, int]:
    """(mono int16 samples, sample rate) of one WAV file, or an error naming the file and the fix."""
    fix = CONVERT.format(name=path.name)
    if path.stat().st_size == 0:
        raise McuforgeError(f"{path}: the file is empty (0 bytes); re-export the recording or "
                            "delete the file")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width = wav.getnchannels(), wav.getsampwidth()
            rate, frames = wav.getframerate(), wav.getnframes()
            data = wav.readframes(frames)
    except wave.Error as err:
        if "unknown format" in str(err):
            raise McuforgeError(f"{path}: unsupported sample format (WAV format code "
                                f"{str(err).split(':')[-1].strip()}, e.g. float or compressed); "
                                f"{fix}") from None
        raise McuforgeError(f"{path}: unreadable WAV header ({err}); {fix}") from None
    except EOFError:
        raise McuforgeError(f"{path}: unreadable WAV header (the file ends inside it); the file is "
                            f"truncated or not a WAV file: re-export it, or {fix}") from None
    if channels != 1:
        raise McuforgeError(f"{path}: {channels} channels but dataset.channels configures mono "
                            f"audio; mix it down, e.g. `sox {path.name} -c 1 mono.wav`")
    if width not in (1, 2):
        raise McuforgeError(f"{path}: unsupported sample format ({8 * width}-bit PCM); {fix}")
    if frames == 0:
        raise McuforgeError(f"{path}: the recording is empty (0 samples); re-export it or delete "
                            "the file")
    if len(data) < frames * width:
        raise McuforgeError(f"{path}: truncated: the header declares {frames} samples but the "
                            f"file holds {len(data) // width}; re-export the recording or delete "
                            "the file")
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        return ((np.frombuffer(data, np.uint8).astype(np.int16) - 128) * 256).astype(np.int16), rate
    return np.frombuffer(data, "<i2").astype(np.int16), rate
