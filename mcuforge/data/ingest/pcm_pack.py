"""A pack of WAV recordings in one lossless file: the int16 PCM of every clip plus its file name.

    names (N,) str   the original file names, e.g. 0_jackson_12.wav (parsed like WAV files are)
    lengths (N,) int64, pcm (sum(lengths),) int16, sample_rate_hz () int64

Written deflated with fixed zip metadata: the same recordings always give the same bytes, so a
sha256 in conf/dataset/ pins them. `python -m scripts.pack_wavs <folder> <out.npz>` makes one.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from mcuforge.atomic import atomic_path
from mcuforge.errors import McuforgeError

_EPOCH = (1980, 1, 1, 0, 0, 0)
KEYS = ("lengths", "names", "pcm", "sample_rate_hz")


def write_pack(path: Path, names: list[str], clips: list[np.ndarray], rate_hz: int) -> None:
    arrays = {"names": np.asarray(names, dtype=str),
              "lengths": np.asarray([len(c) for c in clips], np.int64),
              "pcm": np.concatenate(clips).astype(np.int16),
              "sample_rate_hz": np.asarray(rate_hz, np.int64)}
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED,
                                                   compresslevel=9) as zf:
        for key in KEYS:
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def read_pack(path: Path) -> tuple[list[str], list[np.ndarray], int]:
    """(file names, int16 clips, sample rate) of a pack; a malformed pack is one clear error."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = sorted(set(KEYS) - set(k for k in data.files))
            if missing:
                raise McuforgeError(f"{path}: not a PCM pack (missing {missing}); rebuild it with "
                                    "`python -m scripts.pack_wavs`")
            names, lengths = [str(n) for n in data["names"]], data["lengths"]
            pcm, rate = data["pcm"], int(data["sample_rate_hz"])
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise McuforgeError(f"{path}: unreadable PCM pack ({err}); rebuild it with "
                            "`python -m scripts.pack_wavs`") from None
    if pcm.dtype != np.int16 or len(names) != len(lengths) or int(lengths.sum()) != len(pcm):
        raise McuforgeError(f"{path}: inconsistent PCM pack (dtype {pcm.dtype}, {len(names)} names, "
                            f"{len(lengths)} lengths, {len(pcm)} samples); rebuild it")
    ends = np.cumsum(lengths)
    return names, [pcm[end - n:end] for n, end in zip(lengths, ends)], rate
