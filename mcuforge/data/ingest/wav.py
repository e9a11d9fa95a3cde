"""Sources `wav` (a folder of WAV files) and `pcm_pack` (the same, packed losslessly in one file).

`wav` layouts (dataset.layout):
  folders  <path>/<word>/<file>.wav (Google Speech Commands); files in <path>/<noise.folder>/
           (`_background_noise_`) are background noise for silence clips, not words.
  pattern  <path>/<file>.wav with the word and the group in the name, e.g. {label}_{speaker}_{take}.wav.
`pcm_pack` (dataset=fsdd): <path> is a pack (pcm_pack.py) whose file names follow dataset.pattern;
its sha256 must equal dataset.sha256.
Recording id: the file name without .wav (folders: <word>/<name>); group: the pattern field
dataset.group_field, else the recording id. Every clip is cut/padded to dataset.clip_ms.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mcuforge.data.ingest.pcm_pack import read_pack
from mcuforge.data.ingest.table import DatasetSpec, assemble
from mcuforge.data.ingest.wav_read import read_wav, resample_pcm
from mcuforge.data.ingest.wav_spec import AudioSpec, audio_spec, class_of, fields_of
from mcuforge.data.ingest.watch import file_sha256
from mcuforge.data.kws_clips import fit_clip, to_float
from mcuforge.data.kws_noise import generate_noise
from mcuforge.errors import McuforgeError


def wav_files(root: Path, audio: AudioSpec) -> list[tuple[Path, str, str]]:
    """(file, recording id, raw label) of every clip WAV under `root`, sorted."""
    if not root.is_dir():
        raise McuforgeError(f"dataset.path {str(root)!r} is not a folder; point it at your WAV "
                            "recordings (`dvc exp run -S dataset.path=...`)")
    if audio.layout == "pattern":
        files = sorted(root.glob("*.wav"))
        found = [(f, f.stem, fields_of(f.name, audio, str(f))["label"]) for f in files]
    else:
        noise = audio.noise["folder"]
        found = [(f, f"{f.parent.name}/{f.stem}", f.parent.name) for f in sorted(root.glob("*/*.wav"))
                 if f.parent.name != noise]
    if not found:
        raise McuforgeError(f"dataset.path {str(root)!r} holds no .wav recordings for layout "
                            f"{audio.layout!r}; check dataset.path and dataset.layout")
    return found


def clip_record(name: str, rid: str, raw_label: str, pcm: np.ndarray, audio: AudioSpec,
                where: str) -> tuple[str, str, str, np.ndarray]:
    fields = fields_of(name, audio, where)
    group = fields[audio.group_field] if audio.group_field else rid
    return rid, group, class_of(raw_label, audio, where), pcm


def read_wav_source(spec: DatasetSpec) -> tuple[pd.DataFrame, list[str]]:
    audio = audio_spec(spec.section)
    clips = [clip_record(f.name, rid, label, read_wav(f, audio.rate_hz, audio.resample), audio,
                         str(f))
             for f, rid, label in wav_files(Path(spec.path), audio)]
    return clips_table(clips, spec, audio.clip_samples), findings(clips, audio)


def read_pack_source(spec: DatasetSpec) -> tuple[pd.DataFrame, list[str]]:
    audio, path = audio_spec(spec.section), Path(spec.path)
    if not path.is_file():
        raise McuforgeError(f"dataset.path {spec.path!r} is not a file; a fresh clone ships "
                            "datasets/fsdd/fsdd.npz (git checkout it)")
    actual = file_sha256(path)
    if actual != spec.sha256:
        raise McuforgeError(f"{path}: sha256 is {actual} but dataset.sha256 expects {spec.sha256}; "
                            "restore the file with git checkout, or update dataset.sha256")
    names, pcms, rate = read_pack(path)
    if rate != audio.rate_hz and not audio.resample:
        raise McuforgeError(f"{path}: sampled at {rate} Hz but dataset.sample_rate_hz is "
                            f"{audio.rate_hz}; set dataset.resample: true")
    clips = []
    for name, pcm in zip(names, pcms):
        where = f"{path}: {name}"
        if rate != audio.rate_hz:
            pcm = resample_pcm(pcm, rate, audio.rate_hz)
        label = fields_of(name, audio, where)["label"]
        clips.append(clip_record(name, Path(name).stem, label, pcm, audio, where))
    return clips_table(clips, spec, audio.clip_samples), findings(clips, audio)


def findings(clips, audio: AudioSpec) -> list[str]:
    lengths = np.array([len(c[3]) for c in clips])
    return [f"{len(clips)} clips cut or zero-padded to {audio.clip_samples} samples around their "
            f"energy centre ({int((lengths > audio.clip_samples).sum())} trimmed, "
            f"{int((lengths < audio.clip_samples).sum())} padded)"]


def read_noise(spec: DatasetSpec) -> dict[str, np.ndarray]:
    """Background noise for silence clips: {name: int16 PCM} (empty for non-audio sources)."""
    if spec.source not in ("wav", "pcm_pack"):
        return {}
    audio = audio_spec(spec.section)
    folder = audio.noise["folder"]
    root = Path(spec.path) if Path(spec.path).is_dir() else Path(spec.path).parent
    files = sorted((root / folder).glob("*.wav")) if folder else []
    if files:
        return {f.stem: read_wav(f, audio.rate_hz, audio.resample) for f in files}
    return generate_noise(audio.noise, audio.rate_hz)


def clips_table(clips: list[tuple[str, str, str, np.ndarray]], spec: DatasetSpec,
                length: int) -> pd.DataFrame:
    """(recording id, group, class label, int16 PCM) per clip → the canonical long table."""
    clips = sorted(clips, key=lambda clip: clip[0])
    n = len(clips)

    def repeated(values):  # one string per row, built in Arrow (24M Python strings cost GBs)
        codes = np.repeat(np.arange(n, dtype=np.int32), length)
        return pa.DictionaryArray.from_arrays(codes, pa.array(values, pa.large_string())).cast(
            pa.large_string())

    table = pa.table({
        "recording": repeated([c[0] for c in clips]),
        "subject": repeated([c[1] for c in clips]),
        "time_s": np.tile(np.arange(length, dtype=np.float64) / spec.sample_rate_hz, n),
        "audio": np.concatenate([to_float(fit_clip(pcm, length)) for *_, pcm in clips]),
        "label": repeated([c[2] for c in clips]),
    })
    return assemble([table.to_pandas()], spec)
