"""The mfcc block (mcuforge/dsp/mfcc.py, CMSIS-DSP arm_mfcc_f32 / arm_mfcc_q15) and its C twin
(firmware/features/src/mfcc.c): bit-exact on the host (CMSIS-DSP compiled with the cmsisdsp
wheel's flags) through every entry point (float window, int16 PCM clip, frame by frame), the q15
variant's error against f32, bad configs, and the twin on the emulated Cortex-M4.

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
from mcuforge.dsp.feature_blocks import block_feature_names, compute_block
from mcuforge.dsp.mfcc import (make_mfcc_plan, mfcc_features, mfcc_features_batch, q15_error_vs_f32,
                               variant_report)
from mcuforge.errors import McuforgeError

ROOT = Path(__file__).resolve().parents[1]
FEATURES_DIR = ROOT / "firmware" / "features"
HARNESS = ROOT / "tests" / "c" / "mfcc_pcm_harness.c"
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
    """The CMSIS-DSP sources of the mfcc block, compiled with the cmsisdsp wheel's flags."""
    root = cds.cmsis_dsp_root()
    out = tmp_path_factory.mktemp("cmsis_mfcc")
    objects = []
    for src in cds.cmsis_dsp_sources(cmsis_functions("mfcc"), root):
        obj = out / f"{src.parent.name}_{src.stem}.o"
        subprocess.run(["gcc", *cds.WHEEL_CFLAGS, *cds.WHEEL_DEFINES, *cds.SECTION_FLAGS,
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
    defines = [d for d in cds.WHEEL_DEFINES if d != "-DNDEBUG"]
    cmd = ["gcc", *TWIN_CFLAGS, *defines, *cds.SECTION_FLAGS, f"-I{gen}",
           f"-I{FEATURES_DIR / 'include'}", f"-I{FEATURES_DIR / 'src'}",
           *[f"-isystem{d}" for d in cds.include_dirs(root)],
           *map(str, sorted((FEATURES_DIR / "src").glob("*.c"))), str(HARNESS),
           *map(str, objects), *cds.GC_LINK_FLAGS, *cds.WHEEL_LIBS, "-o", str(exe)]
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
    log_mel = compute_block(windows_of(pcm), mfcc_cfg(output="log_mel"), RATE_HZ)
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
]


@pytest.mark.parametrize("change,field", BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_bad_config_names_the_field(change, field):
    with pytest.raises(McuforgeError, match=field.replace(".", r"\.")):
        make_mfcc_plan(mfcc_cfg(**change), RATE_HZ)


def test_q15_refuses_non_pcm_samples():
    cfg = mfcc_cfg(variant="q15")
    windows = np.full((1, window_samples(cfg), 1), 0.1, dtype=np.float32)  # 0.1 * 32768 not whole
    with pytest.raises(McuforgeError, match="int16 PCM"):
        mfcc_features_batch(windows, make_mfcc_plan(cfg, RATE_HZ))


def qemu_outputs(cfg: dict, pcm: np.ndarray, py: np.ndarray, work: Path) -> dict[str, np.ndarray]:
    """The harness with the clips compiled in, built like the firmware image for cortex-m4
    (mcuforge.firmware.firmware_image), run on QEMU mps2-an386; its hex output parsed."""
    from mcuforge.firmware import baremetal, firmware_image

    core = baremetal.CORES["cortex-m4"]
    header_for(cfg, py, work / "gen")
    rows = ",\n".join("{" + ",".join(map(str, clip)) + "}" for clip in pcm)
    (work / "gen" / "mf_clips.h").write_text(
        f"#include <stdint.h>\n#define MF_N_CLIPS {len(pcm)}\n"
        f"static const int16_t mf_clips[{len(pcm)}][{pcm.shape[1]}] = {{\n{rows}\n}};\n")
    sources, includes, defines = firmware_image.cmsis_build_inputs(core, "mfcc")
    flags = [f"-I{d}" for d in includes] + [f"-D{d}" for d in defines]
    objects = [firmware_image._compile(core, src, work / f"cmsis_{i}.o", [*flags, "-std=c11", "-w"])
               for i, src in enumerate(sources)]
    ours = [baremetal.SUPPORT_DIR / "startup.c", *sorted((FEATURES_DIR / "src").glob("*.c")), HARNESS]
    inc = [f"-I{d}" for d in (work / "gen", baremetal.SUPPORT_DIR, FEATURES_DIR / "include",
                              FEATURES_DIR / "src")]
    objects += [firmware_image._compile(core, src, work / f"ours_{i}.o", [*inc, *flags, "-DMF_QEMU"])
                for i, src in enumerate(ours)]
    elf = work / "mfcc.elf"
    subprocess.run(["arm-none-eabi-gcc", *core.cpu_flags, *map(str, objects), *baremetal.LDFLAGS,
                    f"-T{core.linker_script}", *firmware_image.LIBS, "-o", str(elf)],
                   check=True, capture_output=True)
    run = baremetal.run_qemu(core, elf, timeout=300)
    lines = run.stdout.split()
    assert run.returncode == 0 and lines[-1] == "done", run.stdout[-500:] + run.stderr
    raw = bytes.fromhex("".join(lines[:-1]))
    return parse_outputs(raw, len(pcm), py[0].size)


@pytest.mark.parametrize("name", ["f32_default", "q15_default"])
def test_c_twin_on_qemu_cortex_m4(name, tmp_path):
    from mcuforge.firmware import baremetal

    if baremetal.missing_tools():
        pytest.skip(f"{baremetal.missing_tools()} not installed (scripts/setup.sh installs them)")
    cfg = CONFIGS[name]
    pcm = synthetic_audio(window_samples(cfg), seed=3)[[0, 1, 4, 5, 10, 11, 12, 13]]
    py = mfcc_features_batch(windows_of(pcm), make_mfcc_plan(cfg, RATE_HZ))
    out = qemu_outputs(cfg, pcm, py, tmp_path)
    for entry in ("frames", "float"):  # every device entry point gives the same bits
        np.testing.assert_array_equal(out[entry].view(np.uint32), out["pcm"].view(np.uint32))
    dev = out["pcm"].reshape(py.shape)
    differ = int(np.sum(dev.view(np.uint32) != py.view(np.uint32)))
    err = np.abs(dev.astype(np.float64) - py)
    print(f"\n{name} on QEMU cortex-m4: {differ} of {py.size} values differ from Python, "
          f"max abs err {err.max():.3g}, max rel err {(err / np.maximum(np.abs(py), 1)).max():.3g}")
    per_clip = err.reshape(len(pcm), -1).max(axis=1)
    print(f"max abs err per clip (silence, DC, tone, tone, noise, noise, speech, speech): "
          f"{np.array2string(per_clip, precision=3)}")
    if cfg["variant"] == "q15":
        assert differ == 0  # integer arithmetic: bit-exact on the device too
    else:
        # Not bit-exact: the Python side is the x86 cmsisdsp wheel (-ffast-math: SSE-vectorised
        # dot products and libmvec's vector logf), the device sums in source order with newlib's
        # logf. Tiny at speech level; near-floor bands (DC, lone tones) move more in the log.
        assert per_clip[4:].max() <= 1e-4 and per_clip.max() <= 0.5


def test_verify_report_holds_the_q15_cost_only_for_q15():
    cfg = mfcc_cfg()
    windows = windows_of(synthetic_audio(window_samples(cfg), seed=2)[[10, 13]])
    assert variant_report(windows, cfg, RATE_HZ) == {}
    assert variant_report(windows, {"block": "spectral"}, RATE_HZ) == {}
    report = variant_report(windows, mfcc_cfg(variant="q15"), RATE_HZ)["mfcc_q15_vs_f32"]
    assert report["windows"] == 2 and 0 < report["mean_abs_err"] < report["max_abs_err"] < 1.5
    assert 0 < report["mean_rel_err"] <= report["max_rel_err"]
