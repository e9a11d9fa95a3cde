"""The firmware path for audio on QEMU: int16 PCM -> C MFCC (CMSIS-DSP arm_mfcc_f32) -> native
C DS-CNN -> int8 logits, equal to the Python int8 pipeline (mfcc_features_batch -> standardize ->
quantize_input -> tflite_micro) on every clip, on Cortex-M4 (mps2-an386) and Cortex-M3
(mps2-an385); the deployable image's flash/RAM and the instructions per inference are measured."""
from __future__ import annotations

import os

import numpy as np
import pytest
import yaml

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from conftest import ROOT  # noqa: E402
from mcuforge.codegen.emit_features import generate_features  # noqa: E402
from mcuforge.codegen.emit_native import generate_native  # noqa: E402
from mcuforge.codegen.tflm_runtime import device_logits, io_quantization  # noqa: E402
from mcuforge.data.normalization import fit_standardizer, standardize  # noqa: E402
from mcuforge.dsp.feature_blocks import compute_block  # noqa: E402
from mcuforge.errors import McuforgeError  # noqa: E402
from mcuforge.firmware import baremetal, firmware_image  # noqa: E402

RATE = 8000
CLIP_MS = 250   # the tiny slice's clip: 2000 samples -> 14 frames x 10 coefficients
pytestmark = pytest.mark.skipif(bool(baremetal.missing_tools()), reason="Arm toolchain / QEMU not installed")


def mfcc_cfg() -> dict:
    cfg = yaml.safe_load((ROOT / "conf" / "features" / "mfcc.yaml").read_text())
    return {**cfg, "window_ms": CLIP_MS, "stride_ms": CLIP_MS}


def pcm_clips(seed: int, n: int) -> np.ndarray:
    """Speech-like int16 clips (voiced harmonics with a moving pitch in noise), plus silence and a
    full-scale clip; returned as the windows the chain sees: float32 pcm / 32768, shape (n, T, 1)."""
    rng = np.random.default_rng(seed)
    length = RATE * CLIP_MS // 1000
    t = np.arange(length) / RATE
    pitch = rng.uniform(90, 250, (n, 1)) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(1, 4, (n, 1)) * t))
    phase = 2 * np.pi * np.cumsum(pitch, axis=1) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 6)) * np.hanning(length)
    audio = rng.uniform(0.05, 0.6, (n, 1)) * voiced + rng.uniform(0, 0.05, (n, 1)) * rng.standard_normal((n, length))
    pcm = np.clip(np.rint(audio * 32768), -32768, 32767).astype(np.int16)
    pcm[0] = 0
    pcm[1] = np.where(np.arange(length) % 2, 32767, -32768)
    return (pcm.astype(np.float32) / 32768.0)[..., None]


def write_features_header(model: bytes, windows: np.ndarray, clip_norm: str, folder) -> tuple[dict, dict]:
    """The tiny clip's MFCC config with this clip_norm and its scaler fitted on the windows, the
    features header of both (with the model's input quantisation) written into folder:
    (features config, scaler)."""
    cfg = {**mfcc_cfg(), "clip_norm": clip_norm}
    scaler = fit_standardizer(compute_block(windows, cfg, RATE))
    norm = {"block": "mfcc", "mean": scaler["mean"].tolist(), "std": scaler["std"].tolist()}
    generate_features(norm, cfg, RATE, io_quantization(model)["input"], folder)
    return cfg, scaler


@pytest.fixture(scope="module")
def audio_build(tmp_path_factory):
    """(model bytes, windows, standardized features, folder) for a random DS-CNN student over the
    tiny clip's MFCC map; folder holds generated/ (the model) and features/ (the configured clip_norm)."""
    from test_codegen_dscnn import dscnn_int8

    windows = pcm_clips(0, 24)
    x = compute_block(windows, mfcc_cfg(), RATE)
    arch = yaml.safe_load((ROOT / "conf" / "model" / "dscnn.yaml").read_text())["student"]
    model = dscnn_int8(arch, x.shape[1:], 8, seed=4)
    out = tmp_path_factory.mktemp("audio")
    generate_native(model, out / "generated", [f"c{i}" for i in range(8)], "kws")
    _, scaler = write_features_header(model, windows, mfcc_cfg()["clip_norm"], out / "features")
    return model, windows, standardize(x, scaler), out


@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m3"])
def test_pcm_to_logits_on_qemu_equals_python_int8_pipeline(audio_build, cpu, tmp_path):
    model, windows, x_std, out = audio_build
    core = baremetal.CORES[cpu]
    images = firmware_image.build_images(core, out / "generated", "kws", out / "features",
                                         windows.shape[1], "mfcc", tmp_path)
    run = firmware_image.run_windows(core, images["test"], windows, 8, block="mfcc")
    expected = device_logits(model, x_std)
    assert np.array_equal(run["logits"], expected), np.flatnonzero((run["logits"] != expected).any(axis=1))
    deploy = baremetal.elf_sizes(images["deploy"])
    assert 0 < deploy["flash"] < 64 * 1024 and 0 < deploy["ram"] + run["stack_bytes"] < 24 * 1024
    counts = firmware_image.count_per_inference(core, images["test"], windows[2:4], block="mfcc")
    assert len(counts) == 2 and min(counts) > 100_000
    print(f"\n{cpu}: flash {deploy['flash']} B, RAM {deploy['ram']} + stack {run['stack_bytes']} B, "
          f"instructions/inference {counts}")


def test_window_that_is_not_pcm_is_refused():
    windows = pcm_clips(1, 2)
    firmware_image.window_bytes(windows, "mfcc")  # PCM / 32768: accepted
    windows[1, 5, 0] += 1e-6
    with pytest.raises(McuforgeError, match="test window 1 is not int16 PCM / 32768"):
        firmware_image.window_bytes(windows, "mfcc")
