"""Source `wav` (both layouts) and `pcm_pack` (the shipped FSDD): tables, resampling, noise, and one
clear error naming the file for every bad WAV, with nothing written."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT, tool_env
from kws_fixtures import FSDD, write_wav
from mcuforge.data.ingest import dataset_spec, read_dataset, read_noise
from mcuforge.data.ingest.pcm_pack import read_pack, write_pack
from mcuforge.errors import McuforgeError

FSDD_SHA = yaml.safe_load((ROOT / "conf/dataset/fsdd.yaml").read_text())["sha256"]
KEYWORDS = ["yes", "no"]


def audio_params(path, **overrides) -> dict:
    dataset = {"source": "wav", "path": str(path), "sha256": None, "sample_rate_hz": 8000,
               "resample": True, "channels": ["audio"], "vector_groups": [], "layout": "pattern",
               "pattern": "{label}_{speaker}_{take}.wav", "group_field": "speaker", "label_map": {},
               "words": ["yes", "no", "up"], "keywords": KEYWORDS,
               "labels": ["silence", "unknown", *KEYWORDS], "clip_ms": 100,
               "noise": {"folder": "_background_noise_", "colors": ["white", "pink"],
                         "seconds": 1, "rms_dbfs": -20.0, "seed": 0}}
    return {"dataset": {**dataset, **overrides}}


def tone(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 3000).astype(np.int16)


def pattern_folder(root: Path) -> Path:
    for i, (word, speaker) in enumerate([("yes", "ann"), ("no", "ann"), ("up", "bob"), ("yes", "bob")]):
        write_wav(root / f"{word}_{speaker}_{i}.wav", tone(500 + 300 * i, i))
    return root


def test_pattern_layout_gives_fixed_length_clips_grouped_by_speaker(tmp_path):
    table, findings = read_dataset(dataset_spec(audio_params(pattern_folder(tmp_path / "raw"))))
    assert sorted(table["recording"].unique()) == ["no_ann_1", "up_bob_2", "yes_ann_0", "yes_bob_3"]
    per_clip = table.groupby("recording")
    assert per_clip.size().eq(800).all()                      # 100 ms at 8 kHz
    assert per_clip["subject"].first().to_dict() == {"no_ann_1": "ann", "up_bob_2": "bob",
                                                     "yes_ann_0": "ann", "yes_bob_3": "bob"}
    assert per_clip["label"].first().to_dict() == {"no_ann_1": "no", "up_bob_2": "unknown",
                                                   "yes_ann_0": "yes", "yes_bob_3": "yes"}
    # Values are int16 PCM / 32768 exactly; the 500-sample clip is zero-padded around its energy.
    yes = table[table["recording"] == "yes_ann_0"]["audio"].to_numpy()
    assert np.array_equal(yes * 32768, np.round(yes * 32768))
    assert np.count_nonzero(yes) == 500
    energy = yes.astype(float) ** 2
    assert abs(np.arange(800) @ energy / energy.sum() - 399.5) <= 0.5   # centred on its energy
    assert "2 trimmed, 1 padded" in findings[0]               # 500, 800, 1100, 1400 samples


def test_folder_layout_reads_words_from_folders_and_noise_from_background_folder(tmp_path):
    root = tmp_path / "speech"
    write_wav(root / "yes" / "aa11_nohash_0.wav", tone(800, 1))
    write_wav(root / "up" / "bb22_nohash_0.wav", tone(800, 2))
    write_wav(root / "_background_noise_" / "hum.wav", tone(4000, 3))
    params = audio_params(root, layout="folders", pattern="{speaker}_nohash_{take}.wav")
    spec = dataset_spec(params)
    table, _ = read_dataset(spec)
    first = table.groupby("recording").first()
    assert first["label"].to_dict() == {"up/bb22_nohash_0": "unknown", "yes/aa11_nohash_0": "yes"}
    assert first["subject"].to_dict() == {"up/bb22_nohash_0": "bb22", "yes/aa11_nohash_0": "aa11"}
    noise = read_noise(spec)
    assert list(noise) == ["hum"] and np.array_equal(noise["hum"], tone(4000, 3))


def test_generated_noise_is_seeded_and_coloured(tmp_path):
    spec = dataset_spec(audio_params(pattern_folder(tmp_path / "raw")))
    noise, again = read_noise(spec), read_noise(spec)
    assert list(noise) == ["white", "pink"] and all(v.dtype == np.int16 and len(v) == 8000
                                                    for v in noise.values())
    assert all(np.array_equal(noise[k], again[k]) for k in noise)
    for name, pcm in noise.items():   # RMS at -20 dBFS
        assert abs(20 * np.log10(np.sqrt(np.mean(pcm.astype(float) ** 2)) / 32768) + 20) < 0.05, name
    power = {k: np.abs(np.fft.rfft(v.astype(float))) ** 2 for k, v in noise.items()}
    low, high = slice(20, 400), slice(2000, 3800)
    assert power["pink"][low].mean() / power["pink"][high].mean() > 5
    assert 0.5 < power["white"][low].mean() / power["white"][high].mean() < 2


def test_other_rates_are_resampled_or_refused(tmp_path):
    root = tmp_path / "raw"
    t = np.arange(16000) / 16000
    write_wav(root / "yes_ann_0.wav", (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16), rate=16000)
    table, _ = read_dataset(dataset_spec(audio_params(root, clip_ms=1000)))
    audio = table["audio"].to_numpy()
    assert len(audio) == 8000
    peak_hz = np.argmax(np.abs(np.fft.rfft(audio))) * 8000 / len(audio)
    assert peak_hz == 440 and abs(np.abs(audio).max() - 8000 / 32768) < 0.01
    with pytest.raises(McuforgeError, match=r"yes_ann_0.wav: sampled at 16000 Hz.*dataset.resample"):
        read_dataset(dataset_spec(audio_params(root, resample=False)))


def float_wav(path: Path) -> Path:
    """A 32-bit float WAV (format code 3), written by hand: the stdlib cannot write one."""
    data = np.zeros(100, "<f4").tobytes()
    fmt = (b"fmt " + (16).to_bytes(4, "little") + (3).to_bytes(2, "little") + (1).to_bytes(2, "little")
           + (8000).to_bytes(4, "little") + (32000).to_bytes(4, "little") + (4).to_bytes(2, "little")
           + (32).to_bytes(2, "little"))
    body = b"WAVE" + fmt + b"data" + len(data).to_bytes(4, "little") + data
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    return path


BAD = {
    "stereo": (lambda p: write_wav(p, np.zeros((100, 2), np.int16), channels=2), "2 channels"),
    "empty file": (lambda p: p.write_bytes(b""), "empty \\(0 bytes\\)"),
    "no samples": (lambda p: write_wav(p, np.zeros(0, np.int16)), "empty \\(0 samples\\)"),
    "truncated": (lambda p: p.write_bytes(write_wav(p, tone(1000, 0)).read_bytes()[:1044]),
                  "truncated: the header declares 1000 samples but the file holds 500"),
    "header cut": (lambda p: p.write_bytes(write_wav(p, tone(100, 0)).read_bytes()[:20]),
                   "unreadable WAV header"),
    "not a wav": (lambda p: p.write_bytes(b"ID3\x04 this is an mp3" * 4), "unreadable WAV header"),
    "24-bit": (lambda p: write_wav(p, tone(100, 0), width=3), "unsupported sample format \\(24-bit"),
    "float": (float_wav, "unsupported sample format \\(WAV format code 3"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_wav_is_one_error_naming_the_file(tmp_path, case):
    root = pattern_folder(tmp_path / "raw")
    make, message = BAD[case]
    bad = root / "no_bob_7.wav"
    make(bad)
    with pytest.raises(McuforgeError, match=f"{bad}: .*{message}"):
        read_dataset(dataset_spec(audio_params(root)))


def test_labels_outside_the_config_and_unmatched_names_are_refused(tmp_path):
    root = pattern_folder(tmp_path / "raw")
    write_wav(root / "down_ann_9.wav", tone(100, 0))
    with pytest.raises(McuforgeError, match=r"down_ann_9.wav: label 'down' is not in dataset.words"):
        read_dataset(dataset_spec(audio_params(root)))
    (root / "down_ann_9.wav").rename(root / "stray.wav")
    with pytest.raises(McuforgeError, match=r"stray.wav: the file name does not match dataset.pattern"):
        read_dataset(dataset_spec(audio_params(root)))


@pytest.mark.parametrize("case", ["stereo", "truncated", "24-bit"])
def test_ingest_stage_exits_2_naming_the_file_and_writes_nothing(tmp_path, case):
    root = pattern_folder(tmp_path / "raw")
    BAD[case][0](root / "up_ann_5.wav")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(audio_params(root)))
    proc = subprocess.run([sys.executable, "-m", "stages.ingest"], cwd=tmp_path, env=tool_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {root / 'up_ann_5.wav'}: ") and proc.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml", "raw"]


def test_shipped_fsdd_is_the_pinned_bytes_with_every_recording():
    assert hashlib.sha256(FSDD.read_bytes()).hexdigest() == FSDD_SHA
    assert FSDD.stat().st_size <= 25 * 2 ** 20
    names, clips, rate = read_pack(FSDD)
    fields = [Path(n).stem.split("_") for n in names]
    assert rate == 8000 and len(names) == 3000 and len(set(names)) == 3000
    speakers = sorted({s for _, s, _ in fields})
    assert speakers == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    for speaker in speakers:
        for digit in map(str, range(10)):
            takes = sorted(int(t) for d, s, t in fields if d == digit and s == speaker)
            assert takes == list(range(50)), (speaker, digit)
    assert all(c.dtype == np.int16 and len(c) >= 1000 for c in clips)
    assert (ROOT / "datasets/fsdd/LICENSE").read_text().count("CC BY-SA 4.0") >= 1


def test_pack_refuses_other_bytes_and_round_trips(tmp_path):
    clips = [tone(300, 1), tone(50, 2)]
    write_pack(tmp_path / "a.npz", ["yes_ann_0.wav", "no_bob_1.wav"], clips, 8000)
    write_pack(tmp_path / "b.npz", ["yes_ann_0.wav", "no_bob_1.wav"], clips, 8000)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    names, back, rate = read_pack(tmp_path / "a.npz")
    assert names == ["yes_ann_0.wav", "no_bob_1.wav"] and rate == 8000
    assert all(np.array_equal(a, b) for a, b in zip(clips, back))
    params = audio_params(tmp_path / "a.npz", source="pcm_pack", sha256="0" * 64)
    with pytest.raises(McuforgeError, match=r"a.npz: sha256 is .* but dataset.sha256 expects 0000"):
        read_dataset(dataset_spec(params))
