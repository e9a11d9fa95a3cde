"""Small audio inputs for tests: WAV writing and a TINY slice of the shipped FSDD.

    from kws_fixtures import tiny_fsdd_overrides
    overrides = ["dataset=fsdd", *tiny_fsdd_overrides(tmp_path)]   # Hydra overrides for compose()

or use the session fixture `tiny_fsdd` (tests/conftest.py): a dict with `path` (a PCM pack of
TAKES takes of every digit by every speaker = 6 x 10 x TAKES clips), `sha256`, and `overrides`.
"""
from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np

from mcuforge.data.ingest.pcm_pack import read_pack, write_pack

ROOT = Path(__file__).resolve().parents[1]
FSDD = ROOT / "datasets" / "fsdd" / "fsdd.npz"
TAKES = 3   # takes 0..TAKES-1 of each digit by each speaker


def write_wav(path: Path, pcm: np.ndarray, rate: int = 8000, channels: int = 1, width: int = 2) -> Path:
    """A PCM WAV with the stdlib `wave` module; `pcm` int16 (frames,) or (frames, channels)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(pcm)
    if width == 1:
        raw = (data.astype(np.int32) // 256 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in data.reshape(-1) * 256)
    else:
        raw = data.astype("<i2").tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(raw)
    return path


def tiny_fsdd(dst: Path, takes: int = TAKES) -> tuple[Path, str]:
    """A pack of the shipped FSDD's takes 0..takes-1 (every digit, every speaker) and its sha256."""
    names, clips, rate = read_pack(FSDD)
    keep = [i for i, name in enumerate(names) if int(Path(name).stem.split("_")[2]) < takes]
    path = dst / "tiny_fsdd.npz"
    write_pack(path, [names[i] for i in keep], [clips[i] for i in keep], rate)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def tiny_fsdd_overrides(dst: Path, takes: int = TAKES) -> list[str]:
    path, sha = tiny_fsdd(dst, takes)
    return [f"dataset.path={path}", f"dataset.sha256={sha}"]
