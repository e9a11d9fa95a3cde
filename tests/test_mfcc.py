"""The mfcc block (mcuforge/dsp/mfcc.py, CMSIS-DSP arm_mfcc_f32 / arm_mfcc_q15) and its C twin
(firmware/features/src/mfcc.c): bit-exact on the host (CMSIS-DSP compiled with the device's float
semantics, mcuforge.dsp.host_dsp.DEVICE_FLOAT_CFLAGS) through every entry point (float window,
int16 PCM clip, frame by frame), the q15 variant's error against f32, the f32 features against
the cmsisdsp wheel's arm_mfcc_f32, bad configs, and the twin bit-exact on the emulated Cortex-M4
(hard float) and Cortex-M3 (soft float) on synthetic and real FSDD clips.

Run with -s to see the measured numbers.
"""
from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from mcuforge.codegen.emit_features import cmsis_functions, generate_features
from mcuforge.codegen.tflm_runtime import quantize_input
from mcuforge.data.normalization import fit_standardizer, standardize
from mcuforge.dsp import cmsis_dsp_sources as cds
from mcuforge.dsp import host_dsp
from mcuforge.data.ingest.pcm_pack import read_pack
from mcuforge.dsp.feature_blocks import block_feature_names, compute_block
from mcuforge.dsp.mfcc import (f32_error_vs_wheel, make_mfcc_plan, mfcc_features,
                               mfcc_features_batch, q15_error_vs_f32, variant_report)
from mcuforge.errors import McuforgeError
from qemu_features import run_on_qemu

ROOT = Path(__file__).resolve().parents[1]
FEATURES_DIR = ROOT / "firmware" / "features"
HARNESS = ROOT / "tests" / "c" / "mfcc_pcm_harness.c"
FSDD = ROOT / "datasets" / "fsdd" / "fsdd.npz"
RATE_HZ = 8000
TWIN_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffp-contract=off")
QUANT = {"scale": 0.03, "zero_point": -3}


def mfcc_cfg(**changes) -> dict:
    cfg = yaml.safe_load((ROOT / "conf" / "features" / "mfcc.yaml").read_text())
    cfg.update(changes)
    return cfg


CONFIGS = {
    "f32_default": mfcc_cfg(),
    "q15_default": mfcc_cfg(variant="q15"),
    "log_mel_hamming": mfcc_cfg(output="log_mel", window="hamming", mel_bands=32),
    "short_clip_padded_fft512_13": mfcc_cfg(window_ms=500, stride_ms=500, frame_ms=40, hop_ms=20,
                                            fft_length=512, coefficients=13, fmin_hz=60,
                                            fmax_hz=3800),
    "q15_fft128_20_mel": mfcc_cfg(variant="q15", window_ms=250, stride_ms=250, frame_ms=16,
                                  hop_ms=8, fft_length=128, mel_bands=20, coefficients=12),
    "f32_clip_mean": mfcc_cfg(clip_norm="mean"),
    "q15_clip_mean_short": mfcc_cfg(variant="q15", clip_norm="mean", window_ms=500,
                                            stride_ms=500, coefficients=13),
}


def synthetic_audio(n_samples: int, seed: int = 0) -> np.ndarray:
    """int16 PCM clips: silence, full scale (both rails, a clipped square wave), tones, chirp,
    white noise at several levels, a single click, and speech-like bursts (AM harmonics)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / RATE_HZ
    clips = [np.zeros(n_samples), np.full(n_samples, 32767.0), np.full(n_samples, -32768.0),
             32767.0 * np.sign(np.sin(2 * np.pi * 250 * t) + 1e-9),
             8000 * np.sin(2 * np.pi * 440 * t), 30000 * np.sin(2 * np.pi * 3999 * t),
             20000 * np.sin(2 * np.pi * (100 + 1900 * t / t[-1]) * t),
             np.where(np.arange(n_samples) == n_samples // 3, 32767.0, 0.0)]
    for level in (1, 30, 1000, 12000):
        clips.append(rng.normal(0, level, n_samples))
    for _ in range(4):
        f0 = rng.uniform(90, 250)
        envelope = np.clip(np.sin(np.pi * rng.uniform(2, 6) * t), 0, None) ** 2
        voiced = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 15))
        clips.append(6000 * envelope * voiced + rng.normal(0, 50, n_samples))
    return np.clip(np.round(np.array(clips)), -32768, 32767).astype(np.int16)


def windows_of(pcm: np.ndarray) -> np.ndarray:
    return (pcm.astype(np.float32) / np.float32(32768.0))[..., None]


def window_samples(cfg: dict) -> int:
    return int(cfg["window_ms"] * RATE_HZ / 1000)


@pytest.fixture(scope="module")
def cmsis_objects(tmp_path_factory) -> list[Path]:
    """The CMSIS-DSP sources of the mfcc block, compiled as mcuforge.dsp.host_dsp compiles them
    (the device's float semantics)."""
    root = cds.cmsis_dsp_root()
    out = tmp_path_factory.mktemp("cmsis_mfcc")
    objects = []
    for src in cds.cmsis_dsp_sources(cmsis_functions("mfcc"), root):
        obj = out / f"{src.parent.name}_{src.stem}.o"
        subprocess.run(["gcc", *host_dsp.DEVICE_FLOAT_CFLAGS, *cds.SECTION_FLAGS,
                        *[f"-I{d}" for d in cds.include_dirs(root)], "-c", str(src), "-o", str(obj)],
                       check=True, capture_output=True)
        objects.append(obj)
    return objects


def header_for(cfg: dict, py: np.ndarray, out: Path) -> dict:
    scaler = fit_standardizer(py)
    norm = {"block": "mfcc", "mean": scaler["mean"].tolist(), "std": scaler["std"].tolist()}
    generate_features(norm, cfg, RATE_HZ, QUANT, out)
    return scaler


def build_host_twin(gen: Path, objects: list[Path], exe: Path) -> Path:
    root = cds.cmsis_dsp_root()
    cmd = ["gcc", *TWIN_CFLAGS, "-D__GNUC_PYTHON__", *cds.SECTION_FLAGS, f"-I{gen}",
           f"-I{FEATURES_DIR / 'include'}", f"-I{FEATURES_DIR / 'src'}",
           *[f"-isystem{d}" for d in cds.include_dirs(root)],
           *map(str, sorted((FEATURES_DIR / "src").glob("*.c"))), str(HARNESS),
           *map(str, objects), *cds.GC_LINK_FLAGS, "-lm", "-o", str(exe)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr[-3000:]}"
    return exe


def parse_outputs(raw: bytes, n_clips: int, n_features: int) -> dict[str, np.ndarray]:
    record = np.dtype([("pcm", np.float32, (n_features,)), ("frames", np.float32, (n_features,)),
                       ("float", np.float32, (n_features,)), ("int8", np.int8, (n_features,))])
    out = np.frombuffer(raw, dtype=record)
    assert len(out) == n_clips
    return {name: out[name] for name in record.names}


def assert_bit_exact(c: np.ndarray, py: np.ndarray, what: str) -> None:
    c = c.reshape(py.shape)
    differ = int(np.sum(c.view(np.uint32) != py.view(np.uint32)))
    assert differ == 0, f"{what}: {differ} of {py.size} values differ, max abs {np.abs(c - py).max()}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_c_twin_bit_exact_on_host(name, cmsis_objects, tmp_path):
    cfg = copy.deepcopy(CONFIGS[name])
    pcm = synthetic_audio(window_samples(cfg), seed=sorted(CONFIGS).index(name))
    py = mfcc_features_batch(windows_of(pcm), make_mfcc_plan(cfg, RATE_HZ))
    assert np.all(np.isfinite(py)) and len(np.unique(py.reshape(len(py), -1), axis=0)) > len(py) // 2
    scaler = header_for(cfg, py, tmp_path / "gen")
    exe = build_host_twin(tmp_path / "gen", cmsis_objects, tmp_path / "twin")
    ran = subprocess.run([str(exe)], input=pcm.tobytes(), capture_output=True)
    assert ran.returncode == 0, ran.stderr.decode(errors="replace")
    out = parse_outputs(ran.stdout, len(pcm), py[0].size)
    for entry in ("pcm", "frames", "float"):
        assert_bit_exact(out[entry], py, f"{name} {entry}")
    expected = quantize_input(standardize(py, scaler), **QUANT).reshape(len(py), -1)
    np.testing.assert_array_equal(out["int8"], expected)
    print(f"\n{name}: {len(pcm)} clips x {py.shape[1:]} bit-exact through 3 entry points")


def test_block_shapes_and_names():
    cfg = mfcc_cfg()
    pcm = synthetic_audio(window_samples(cfg))[:3]
    x = compute_block(windows_of(pcm), cfg, RATE_HZ)
    assert x.shape == (3, 61, 10) and x.dtype == np.float32
    np.testing.assert_array_equal(mfcc_features(windows_of(pcm)[1], make_mfcc_plan(cfg, RATE_HZ)), x[1])
    assert block_feature_names(cfg, RATE_HZ, ["audio"]) == [f"mfcc_{i}" for i in range(10)]
    log_mel = compute_block(windows_of(pcm), mfcc_cfg(output="log_mel", clip_norm="none"), RATE_HZ)
    assert log_mel.shape == (3, 61, 40)
    # silence: every mel energy is 0, so log(0 + 1e-6) in every band
    np.testing.assert_allclose(log_mel[0], np.log(np.float32(1e-6)), rtol=1e-6)


def q15_vs_f32(cfg: dict, pcm: np.ndarray) -> dict:
    return q15_error_vs_f32(windows_of(pcm), cfg, RATE_HZ)


def test_q15_error_against_f32_is_bounded():
    """At speech levels (noise at 1000 and 12000 rms, four speech-like clips) q15 stays within about
    one unit of f32 (coefficients span about +-30). Near-silent bands are another matter: a q15
    spectrum holds ~16 bits, so bands far below the frame's peak lose their log (errors of tens
    on silence, DC or a lone tone: measured below, not bounded)."""
    cfg = mfcc_cfg()
    pcm = synthetic_audio(window_samples(cfg), seed=7)
    speech_level = q15_vs_f32(cfg, pcm[[10, 11, 12, 13, 14, 15]])
    low_level = q15_vs_f32(cfg, pcm[[0, 4, 8, 9]])
    print(f"\nq15 vs f32, speech level: {speech_level}\nq15 vs f32, silence/tone/quiet: {low_level}")
    assert speech_level["max_abs_err"] < 1.5 and speech_level["mean_abs_err"] < 0.15
    assert speech_level["max_abs_err"] > 0  # fixed point really is a different computation
    assert low_level["max_abs_err"] > speech_level["max_abs_err"]


BAD = [
    ({"fft_length": 200}, "features.fft_length"),
    ({"fft_length": 128}, "features.fft_length"),        # shorter than the 256-sample frame
    ({"fmax_hz": 4500}, "features.fmax_hz"),
    ({"fmin_hz": 4000}, "features.fmin_hz"),
    ({"frame_ms": 2000}, "features.frame_ms"),
    ({"frame_ms": 32.1}, "features.frame_ms"),
    ({"hop_ms": 0}, "features.hop_ms"),
    ({"coefficients": 41}, "features.coefficients"),
    ({"mel_bands": 0}, "features.mel_bands"),
    ({"mel_bands": 120}, "features.mel_bands"),          # filters narrower than a bin
    ({"variant": "q31"}, "features.variant"),
    ({"output": "log_mel", "variant": "q15"}, "features.output"),
    ({"window": "blackman"}, "features.window"),
    ({"log_floor": 1e-10}, "features.log_floor"),
    ({"fft_size": 256}, "features.fft_size"),
    ({"clip_norm": "mean_var"}, "features.clip_norm"),
]


@pytest.mark.parametrize("change,field", BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_bad_config_names_the_field(change, field):
    with pytest.raises(McuforgeError, match=field.replace(".", r"\.")):
        make_mfcc_plan(mfcc_cfg(**change), RATE_HZ)


@pytest.mark.parametrize("variant", ["f32", "q15"])
def test_clip_mean_normalisation_removes_each_coefficients_clip_mean(variant):
    """clip_norm mean = the unnormalised MFCC minus its per-clip, per-coefficient mean over the
    frames (float32, summed in frame order as the C twin): the clip mean is then ~0."""
    cfg = mfcc_cfg(variant=variant, clip_norm="none")
    pcm = fsdd_clips(window_samples(cfg))
    plain = mfcc_features_batch(windows_of(pcm), make_mfcc_plan(cfg, RATE_HZ))
    plan = make_mfcc_plan({**cfg, "clip_norm": "mean"}, RATE_HZ)
    normed = mfcc_features_batch(windows_of(pcm), plan)
    mean = np.zeros((len(plain), plain.shape[2]), np.float32)
    for f in range(plain.shape[1]):
        mean += plain[:, f]
    np.testing.assert_array_equal(normed, plain - (mean / np.float32(plain.shape[1]))[:, None, :])
    assert np.abs(normed.mean(axis=1)).max() < 1e-4 < np.abs(plain.mean(axis=1)).max()
    np.testing.assert_array_equal(mfcc_features(windows_of(pcm)[3], plan), normed[3])


@pytest.mark.parametrize("clip_norm", ["none", "mean"])
def test_stream_classifies_the_features_stage_input_of_each_window(clip_norm):
    """Every classification of a stream sees what the features stage computes (MFCC, clip_norm,
    standardise, quantise) for the 1 s window that starts at its first frame."""
    from mcuforge.firmware.streaming import stream_inputs

    cfg = mfcc_cfg(clip_norm=clip_norm)
    plan = make_mfcc_plan(cfg, RATE_HZ)
    c = plan.config
    rng = np.random.default_rng(9)
    pcm = np.clip(rng.normal(0, 3000, 24000) * np.sin(np.arange(24000) / 900.0), -32768, 32767).astype(np.int16)
    scaler = {"mean": rng.normal(0, 2, 10).astype(np.float32), "std": rng.uniform(1, 9, 10).astype(np.float32)}
    quant = {"scale": 0.05, "zero_point": -3}
    ref = stream_inputs(pcm, cfg, RATE_HZ, scaler, quant, every=3)
    assert len(ref["hops"]) > 30
    starts = (ref["hops"] - c.n_frames + 1) * c.hop_length
    windows = np.stack([pcm[s: s + c.window_length] for s in starts]).astype(np.float32) / np.float32(32768.0)
    stage = quantize_input(standardize(compute_block(windows[..., None], cfg, RATE_HZ), scaler),
                           quant["scale"], quant["zero_point"])
    np.testing.assert_array_equal(ref["inputs"], stage.reshape(len(stage), -1))


def test_q15_refuses_non_pcm_samples():
    cfg = mfcc_cfg(variant="q15")
    windows = np.full((1, window_samples(cfg), 1), 0.1, dtype=np.float32)  # 0.1 * 32768 not whole
    with pytest.raises(McuforgeError, match="int16 PCM"):
        mfcc_features_batch(windows, make_mfcc_plan(cfg, RATE_HZ))


def fsdd_clips(n_samples: int) -> np.ndarray:
    """Real speech: take 0 of two digits from each FSDD speaker (speaker i: digits 2i, 2i + 1
    mod 10, so every digit appears), int16 PCM, zero-padded (or trimmed) to n_samples around
    the centre."""
    names, clips, _ = read_pack(FSDD)
    speakers = sorted({Path(name).stem.split("_")[1] for name in names})
    chosen = []
    for name, clip in sorted(zip(names, clips), key=lambda pair: pair[0]):
        digit, speaker, take = Path(name).stem.split("_")
        wanted = {2 * speakers.index(speaker) % 10, (2 * speakers.index(speaker) + 1) % 10}
        if take == "0" and int(digit) in wanted:
            chosen.append(np.asarray(clip, np.int16).reshape(-1))
    out = np.zeros((len(chosen), n_samples), np.int16)
    for i, clip in enumerate(chosen):
        cut, pad = max(0, (len(clip) - n_samples) // 2), max(0, (n_samples - len(clip)) // 2)
        kept = clip[cut:cut + n_samples]
        out[i, pad:pad + len(kept)] = kept
    return out


def qemu_outputs(core_name: str, cfg: dict, pcm: np.ndarray, py: np.ndarray,
                 work: Path) -> dict[str, np.ndarray]:
    """The harness with the clips compiled in, built like the firmware image for the core,
    run on its QEMU machine (tests/qemu_features.py); its output parsed."""
    header_for(cfg, py, work / "gen")
    rows = ",\n".join("{" + ",".join(map(str, clip)) + "}" for clip in pcm)
    (work / "gen" / "mf_clips.h").write_text(
        f"#include <stdint.h>\n#define MF_N_CLIPS {len(pcm)}\n"
        f"static const int16_t mf_clips[{len(pcm)}][{pcm.shape[1]}] = {{\n{rows}\n}};\n")
    raw = run_on_qemu(core_name, "mfcc", work / "gen", HARNESS, work, ("MF_QEMU",))
    return parse_outputs(raw, len(pcm), py[0].size)


QEMU_CASES = [("cortex-m4", "f32_default"), ("cortex-m3", "f32_default"),
              ("cortex-m4", "q15_default"), ("cortex-m3", "q15_default"),
              ("cortex-m4", "f32_clip_mean"), ("cortex-m3", "f32_clip_mean")]


@pytest.mark.parametrize("core,name", QEMU_CASES, ids=[f"{c}-{n}" for c, n in QEMU_CASES])
def test_c_twin_bit_exact_on_qemu(core, name, tmp_path):
    """Every synthetic clip (silence, both rails, square wave, tones, chirp, click, noise at four
    levels, speech-like bursts) and real FSDD speech: the device's features equal the Python
    features to the bit through all three entry points, on the Cortex-M4 FPU (mps2-an386) and
    the Cortex-M3's soft float (mps2-an385); and so do the int8 model inputs."""
    from mcuforge.firmware import baremetal

    if baremetal.missing_tools():
        pytest.skip(f"{baremetal.missing_tools()} not installed (scripts/setup.sh installs them)")
    cfg = CONFIGS[name]
    n = window_samples(cfg)
    pcm = np.concatenate([synthetic_audio(n, seed=3), fsdd_clips(n)])
    py = mfcc_features_batch(windows_of(pcm), make_mfcc_plan(cfg, RATE_HZ))
    scaler = fit_standardizer(py)
    out = qemu_outputs(core, cfg, pcm, py, tmp_path)
    for entry in ("pcm", "frames", "float"):
        assert_bit_exact(out[entry], py, f"{name} on {core} ({entry})")
    expected = quantize_input(standardize(py, scaler), **QUANT).reshape(len(py), -1)
    np.testing.assert_array_equal(out["int8"], expected)
    print(f"\n{name} on QEMU {core}: {len(pcm)} clips ({len(pcm) - 16} FSDD) x {py.shape[1:]} "
          f"bit-exact through 3 entry points")


def test_f32_features_are_the_wheels_mfcc_up_to_summation_order():
    """The wheel's arm_mfcc_f32 (-O3 -ffast-math, glibc logf) is the reference: at speech level
    the device-semantics features agree to ~1e-5 relative; they are not the same bits (else
    host_dsp would be pointless). Near-silent bands sit on the log floor, where a last-bit change
    of a tiny energy moves the log more: measured, bounded loosely."""
    cfg = mfcc_cfg()
    pcm = synthetic_audio(window_samples(cfg), seed=5)
    speech = f32_error_vs_wheel(windows_of(pcm[10:]), cfg, RATE_HZ)
    everything = f32_error_vs_wheel(windows_of(pcm), cfg, RATE_HZ)
    print(f"\nf32 vs cmsisdsp wheel, speech level: {speech}\nall synthetic clips: {everything}")
    assert speech["values_differing"] > 0
    assert speech["max_rel_err"] < 1e-4
    assert everything["max_rel_err"] < 0.5


def test_verify_report_holds_the_q15_cost_only_for_q15():
    cfg = mfcc_cfg()
    windows = windows_of(synthetic_audio(window_samples(cfg), seed=2)[[10, 13]])
    assert variant_report(windows, {"block": "spectral"}, RATE_HZ) == {}
    f32 = variant_report(windows, cfg, RATE_HZ)
    assert list(f32) == ["mfcc_f32_vs_cmsisdsp_wheel"]
    assert f32["mfcc_f32_vs_cmsisdsp_wheel"]["windows"] == 2
    report = variant_report(windows, mfcc_cfg(variant="q15"), RATE_HZ)["mfcc_q15_vs_f32"]
    assert report["windows"] == 2 and 0 < report["mean_abs_err"] < report["max_abs_err"] < 1.5
    assert 0 < report["mean_rel_err"] <= report["max_rel_err"]
