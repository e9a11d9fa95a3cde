"""The microphone source's decimator: firmware/src/decimate.c (host gcc) equals mcuforge.dsp.decimate
bit for bit, in any chunking and in place; the taps are their documented design; it low-passes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from mcuforge.dsp.decimate import TAPS, decimate2, halfband_taps

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc not installed")


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    exe = tmp_path_factory.mktemp("decimate") / "harness"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{ROOT / 'firmware/src'}",
                    str(ROOT / "tests/c/decimate_harness.c"), str(ROOT / "firmware/src/decimate.c"), "-o", str(exe)],
                   check=True)
    return exe


def _c(harness: Path, pcm: np.ndarray, chunk: int, in_place: bool = False) -> np.ndarray:
    args = [str(harness), str(chunk)] + (["inplace"] if in_place else [])
    out = subprocess.run(args, input=pcm.astype("<i2").tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out, "<i2")


@needs_gcc
@pytest.mark.parametrize("length,chunk,in_place", [(1, 1, False), (4001, 160, False), (4000, 7, True),
                                                   (999, 4096, False), (31, 2, True)])
def test_c_decimator_equals_python(harness, length, chunk, in_place):
    rng = np.random.default_rng(length * 31 + chunk)
    pcm = rng.integers(-32768, 32768, size=length).astype(np.int16)
    pcm[: length // 4] = 32767   # saturating runs exercise the clamp
    got = _c(harness, pcm, chunk, in_place)
    want = decimate2(pcm)
    assert len(got) == len(want) == (length + 1) // 2
    assert got.tobytes() == want.tobytes()


@needs_gcc
def test_clamp_is_reached_and_equal(harness):
    pcm = np.tile(np.array([32767] * 6 + [-32768] * 6, np.int16), 50)   # overshoot beyond int16
    want = decimate2(pcm)
    assert want.max() == 32767 and want.min() == -32768
    assert _c(harness, pcm, 5).tobytes() == want.tobytes()


def test_taps_are_the_documented_design_and_fit_int32():
    assert np.array_equal(TAPS, halfband_taps())
    assert TAPS.sum() == 32768 and np.array_equal(TAPS, TAPS[::-1])
    assert int(np.abs(TAPS).sum()) * 32768 < 2**31
    text = (ROOT / "firmware/src/decimate.c").read_text()
    assert ", ".join(map(str, TAPS)) in " ".join(text.split()).replace("{ ", "{")


def test_passes_speech_band_and_rejects_aliases():
    t = np.arange(16000) / 16000.0
    for hz, low, high in ((1000, 0.9, 1.1), (3400, 0.9, 1.1), (6000, 0.0, 0.01)):
        pcm = np.rint(16000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)
        ratio = np.abs(decimate2(pcm)[200:].astype(float)).max() / 16000
        assert low <= ratio <= high, (hz, ratio)
