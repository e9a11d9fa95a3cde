"""The spectral DSP block (mcuforge.dsp): CMSIS-DSP kernels vs independent float64 numpy/scipy
references, config validation, naming, determinism."""
from __future__ import annotations

import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import signal, stats

from mcuforge.dsp import (
    feature_names,
    make_spectral_plan,
    plan_constants,
    spectral_features,
    spectral_features_batch,
)
from mcuforge.dsp import kernels
from mcuforge.errors import McuforgeError

CONF = Path(__file__).resolve().parents[1] / "conf" / "features" / "spectral.yaml"
FS = 50
CHANNELS = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]


def base_cfg() -> dict:
    with open(CONF, encoding="utf-8") as f:
        return yaml.safe_load(f)


def cfg_with(**changes) -> dict:
    cfg = base_cfg()
    for key, value in changes.items():
        if key.startswith("filter_"):
            cfg["filter"][key[len("filter_"):]] = value
        else:
            cfg[key] = value
    return cfg


def plain_cfg(**changes) -> dict:
    """No filter, no mean removal, all stats, linear band powers: features = raw-data stats."""
    base = dict(filter={"type": "none"}, remove_mean=False,
                stats=["mean", "std", "rms", "skew", "kurtosis"], log_power=False)
    base.update(changes)
    return cfg_with(**base)


def rng_data(shape, seed=0, kind="normal") -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "gamma":  # skewed, heavy-tailed: skew and kurtosis well away from 0
        return (rng.gamma(2.0, 1.5, size=shape) + 3.0).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------- stats

def test_conf_file_builds_a_plan_with_expected_shape():
    plan = make_spectral_plan(base_cfg(), FS, 6)
    assert plan.config.window_length == 100
    assert plan.n_bands == 6
    assert plan.n_features == 6 * (3 + 6)
    feats = spectral_features(rng_data((100, 6)), plan)
    assert feats.shape == (54,) and feats.dtype == np.float32
    assert np.all(np.isfinite(feats))


def test_each_stat_matches_float64_reference():
    plan = make_spectral_plan(plain_cfg(), FS, 3)
    window = rng_data((100, 3), seed=1, kind="gamma")
    feats = spectral_features(window, plan).reshape(3, -1)
    for ch in range(3):
        x = window[:, ch].astype(np.float64)
        expected = [x.mean(), x.std(), np.sqrt(np.mean(x * x)),
                    stats.skew(x, bias=True), stats.kurtosis(x, fisher=True, bias=True)]
        np.testing.assert_allclose(feats[ch, :5], expected, rtol=1e-4)
        assert abs(expected[3]) > 0.3 and abs(expected[4]) > 0.3  # a meaningful comparison


def test_stat_kernels_match_reference_directly():
    x32 = rng_data(250, seed=2, kind="gamma")
    x = x32.astype(np.float64)
    np.testing.assert_allclose(kernels.stat_mean(x32), x.mean(), rtol=1e-5)
    np.testing.assert_allclose(kernels.stat_std(x32), x.std(), rtol=1e-4)
    np.testing.assert_allclose(kernels.stat_rms(x32), np.sqrt(np.mean(x * x)), rtol=1e-5)
    np.testing.assert_allclose(kernels.stat_skew(x32), stats.skew(x, bias=True), rtol=1e-4)
    np.testing.assert_allclose(kernels.stat_kurtosis(x32),
                               stats.kurtosis(x, fisher=True, bias=True), rtol=1e-4)
    for value in (kernels.stat_mean(x32), kernels.stat_skew(x32), kernels.stat_kurtosis(x32)):
        assert isinstance(value, np.float32)


@pytest.mark.parametrize("value", [0.0, 1.0, 123.456, -3.3])
@pytest.mark.parametrize("remove_mean", [False, True])
def test_constant_axis_gives_zero_skew_and_kurtosis(value, remove_mean):
    # 123.456f averaged by arm_mean_f32 over 100 samples is 123.45601f, so m2 is not exactly 0.
    plan = make_spectral_plan(plain_cfg(remove_mean=remove_mean), FS, 1)
    feats = spectral_features(np.full((100, 1), value, dtype=np.float32), plan)
    assert np.all(np.isfinite(feats))
    std, skew, kurt = feats[1], feats[3], feats[4]
    assert skew == 0.0 and kurt == 0.0
    assert std <= 1e-4 * max(1.0, abs(value))


def test_mean_removal_centres_the_axis():
    plan = make_spectral_plan(plain_cfg(remove_mean=True), FS, 1)
    x = rng_data((100, 1), seed=3) + np.float32(9.81)
    feats = spectral_features(x, plan)
    np.testing.assert_allclose(feats[0], x[:, 0].astype(np.float64).mean(), rtol=1e-5)  # mean: before removal
    np.testing.assert_allclose(feats[2], x[:, 0].astype(np.float64).std(), rtol=1e-4)  # rms = std


# ---------------------------------------------------------------- filter

@pytest.mark.parametrize("ftype,order,cutoff", [("lowpass", 4, 20.0), ("lowpass", 3, 5.0),
                                                ("highpass", 2, 0.5), ("highpass", 5, 10.0)])
def test_filter_matches_sosfilt(ftype, order, cutoff):
    plan = make_spectral_plan(cfg_with(filter_type=ftype, filter_order=order,
                                       filter_cutoff_hz=cutoff), FS, 1)
    sos = signal.butter(order, cutoff, btype=ftype, fs=FS, output="sos")
    coeffs = plan.biquad_coeffs
    assert coeffs.dtype == np.float32 and coeffs.shape == (sos.shape[0], 5)
    np.testing.assert_allclose(coeffs, np.column_stack(
        [sos[:, 0], sos[:, 1], sos[:, 2], -sos[:, 4], -sos[:, 5]]), rtol=1e-6, atol=1e-7)
    x = rng_data(100, seed=4) + np.float32(2.0)
    y = kernels.biquad_filter(x, coeffs)
    assert y.dtype == np.float32
    ref = signal.sosfilt(sos, x.astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-4 * np.max(np.abs(ref)))


def test_filter_starts_from_zero_state_every_window():
    plan = make_spectral_plan(base_cfg(), FS, 1)
    x = rng_data(100, seed=5)
    first = kernels.biquad_filter(x, plan.biquad_coeffs)
    second = kernels.biquad_filter(x, plan.biquad_coeffs)
    assert first.tobytes() == second.tobytes()
    # Zero initial state: the output starts at b0 * x[0], not at a carried-over value.
    assert first[0] == pytest.approx(float(plan.biquad_coeffs[:, 0].prod() * x[0]), rel=1e-5)


# ---------------------------------------------------------------- Welch PSD and bands

@pytest.mark.parametrize("n,fft_length,overlap", [(100, 64, 0.5), (256, 64, 0.5),
                                                  (500, 128, 0.75), (256, 32, 0.0),
                                                  (1024, 1024, 0.5)])
def test_welch_psd_matches_scipy(n, fft_length, overlap):
    window_ms = n * 1000 / FS
    plan = make_spectral_plan(cfg_with(window_ms=window_ms, fft_length=fft_length,
                                       overlap=overlap, band_edges_hz=[2.0, 20.0]), FS, 1)
    x = rng_data(n, seed=6)
    psd = kernels.welch_psd(x, plan.hann, plan.config.fft_step, plan.n_segments, plan.psd_scale)
    assert psd.dtype == np.float32 and psd.shape == (fft_length // 2 + 1,)
    freqs, ref = signal.welch(x.astype(np.float64), fs=FS, window="hann", nperseg=fft_length,
                              noverlap=int(fft_length * overlap), detrend=False,
                              scaling="density")
    np.testing.assert_allclose(psd, ref, rtol=1e-5, atol=1e-6 * ref.max())
    np.testing.assert_allclose(np.arange(len(psd)) * float(plan.bin_width_hz), freqs)


def test_welch_does_not_modify_its_input():
    plan = make_spectral_plan(base_cfg(), FS, 6)
    window = rng_data((100, 6), seed=7)
    before = window.copy()
    spectral_features(window, plan)
    assert window.tobytes() == before.tobytes()


@pytest.mark.parametrize("freq_hz,band", [(1.0, 0), (2.3, 1), (4.0, 2), (6.5, 3), (10.0, 4),
                                          (16.0, 5)])
def test_pure_sine_power_lands_in_its_band(freq_hz, band):
    amplitude = 2.0
    plan = make_spectral_plan(plain_cfg(stats=[], window_ms=10000, fft_length=256), FS, 1)
    t = np.arange(500) / FS
    x = (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)[:, None]
    bands = spectral_features(x, plan)
    assert int(np.argmax(bands)) == band
    # Sine power A^2/2; with 256-point Hann leakage nearly all of it stays in the band.
    assert bands[band] == pytest.approx(amplitude ** 2 / 2, rel=0.05)
    assert bands.sum() - bands[band] < 0.05 * bands[band]


def test_log_power_is_log10_of_linear_power_plus_floor():
    lin_plan = make_spectral_plan(base_cfg() | {"log_power": False}, FS, 2)
    log_plan = make_spectral_plan(base_cfg(), FS, 2)
    window = rng_data((100, 2), seed=8)
    window[:, 1] = 0.0                                     # zero power -> log10(1e-10) = -10
    lin = spectral_features(window, lin_plan).reshape(2, -1)[:, 3:]
    log = spectral_features(window, log_plan).reshape(2, -1)[:, 3:]
    np.testing.assert_allclose(log, np.log10(lin.astype(np.float64) + 1e-10), rtol=0, atol=2e-6)
    np.testing.assert_allclose(log[1], -10.0, atol=1e-5)


def test_band_bins_follow_lo_le_f_lt_hi_exactly():
    # fs=50, N=64: bin k is at k*0.78125 Hz; 1.5625 Hz is bin 2 exactly, 3.125 Hz is bin 4.
    plan = make_spectral_plan(cfg_with(band_edges_hz=[1.5625, 3.125, 25.0]), FS, 1)
    assert plan.bin_start.tolist() == [2, 4]
    assert plan.bin_stop.tolist() == [4, 32]   # the Nyquist bin (32, 25 Hz) is excluded: f < hi


def test_features_match_float64_pipeline_reference():
    """Whole chain (lowpass, mean removal, stats, Welch, log bands) vs a float64 numpy/scipy
    reimplementation using the same float32 filter coefficients."""
    cfg = base_cfg() | {"stats": ["rms", "skew", "kurtosis", "std", "mean"]}
    plan = make_spectral_plan(cfg, FS, 2)
    window = rng_data((100, 2), seed=9, kind="gamma")
    feats = spectral_features(window, plan).reshape(2, -1)
    c = plan_constants(plan)
    sos = np.column_stack([c["biquad_coeffs"].reshape(-1, 5)[:, :3].astype(np.float64),
                           np.ones(c["n_biquad_stages"]),
                           -c["biquad_coeffs"].reshape(-1, 5)[:, 3:].astype(np.float64)])
    for ch in range(2):
        x = signal.sosfilt(sos, window[:, ch].astype(np.float64))
        filtered_mean = x.mean()
        x = x - filtered_mean
        _, psd = signal.welch(x, fs=FS, window="hann", nperseg=64, noverlap=32, detrend=False)
        bands = [psd[a:b].sum() * FS / 64 for a, b in zip(c["band_bin_start"], c["band_bin_stop"])]
        expected = [np.sqrt(np.mean(x * x)), stats.skew(x), stats.kurtosis(x), x.std()]
        np.testing.assert_allclose(feats[ch, :4], expected, rtol=1e-3)
        np.testing.assert_allclose(feats[ch, 4], filtered_mean, rtol=1e-4)  # the mean before removal
        np.testing.assert_allclose(feats[ch, 5:], np.log10(np.array(bands) + 1e-10), atol=1e-4)


# ---------------------------------------------------------------- names, constants, batch

@pytest.mark.parametrize("changes", [{}, {"stats": []}, {"stats": ["mean", "std", "rms", "skew",
                                                                  "kurtosis"]},
                                     {"band_edges_hz": [1.0, 25.0]}])
def test_feature_names_match_feature_count(changes):
    plan = make_spectral_plan(base_cfg() | changes, FS, 6)
    names = feature_names(plan, CHANNELS)
    feats = spectral_features(rng_data((100, 6)), plan)
    assert len(names) == len(feats) == plan.n_features
    assert len(set(names)) == len(names)


def test_feature_names_format():
    names = feature_names(make_spectral_plan(base_cfg(), FS, 6), CHANNELS)
    assert names[:4] == ["acc_x_rms", "acc_x_skew", "acc_x_kurtosis", "acc_x_band_0.5_1.5hz"]
    assert names[8] == "acc_x_band_12_20hz" and names[9] == "acc_y_rms"
    with pytest.raises(McuforgeError, match="channel"):
        feature_names(make_spectral_plan(base_cfg(), FS, 6), CHANNELS[:3])


def test_plan_constants_are_complete_and_typed():
    plan = make_spectral_plan(base_cfg(), FS, 6)
    c = plan_constants(plan)
    for key, value in c.items():
        assert isinstance(value, (np.ndarray, int, float)), key
        if isinstance(value, np.ndarray):
            assert value.dtype in (np.float32, np.int32), key
    np.testing.assert_array_equal(c["hann_window"], signal.get_window("hann", 64).astype(np.float32))
    assert c["biquad_coeffs"].shape == (c["n_biquad_stages"] * 5,)
    assert c["n_psd_bins"] == 33 == len(c["psd_scale"])
    assert c["n_segments"] == 2 and c["fft_step"] == 32
    assert np.float32(c["inv_ln10"]) == np.float32(1 / np.log(10))
    assert c["n_features"] == 54


def test_batch_equals_loop_and_is_deterministic():
    plan = make_spectral_plan(base_cfg(), FS, 6)
    windows = rng_data((20, 100, 6), seed=10)
    batch = spectral_features_batch(windows, plan)
    assert batch.shape == (20, 54) and batch.dtype == np.float32
    loop = np.stack([spectral_features(w, plan) for w in windows])
    assert batch.tobytes() == loop.tobytes()
    again = spectral_features_batch(windows.copy(), make_spectral_plan(base_cfg(), FS, 6))
    assert again.tobytes() == batch.tobytes()
    restored = pickle.loads(pickle.dumps(plan))
    assert spectral_features_batch(windows, restored).tobytes() == batch.tobytes()


def test_wrong_window_shape_is_an_error():
    plan = make_spectral_plan(base_cfg(), FS, 6)
    with pytest.raises(McuforgeError, match=r"\(100, 6\)"):
        spectral_features(rng_data((99, 6)), plan)
    with pytest.raises(McuforgeError, match=r"\(N, 100, 6\)"):
        spectral_features_batch(rng_data((100, 6)), plan)


# ---------------------------------------------------------------- config errors

def _drop(key):
    cfg = base_cfg()
    del cfg[key]
    return cfg


@pytest.mark.parametrize("cfg,field", [
    (cfg_with(fft_length=100), "features.fft_length=100 must be a power of two between 32"),
    (cfg_with(fft_length=16), "features.fft_length=16"),
    (cfg_with(fft_length=2048), "features.fft_length=2048"),
    (cfg_with(fft_length=128), "features.fft_length=128 is longer than the window"),
    (cfg_with(fft_length=64.0), "features.fft_length"),
    (cfg_with(filter_cutoff_hz=30), "features.filter.cutoff_hz=30 must be below Nyquist (25 Hz)"),
    (cfg_with(filter_cutoff_hz=25), "features.filter.cutoff_hz=25 must be below Nyquist"),
    (cfg_with(filter_cutoff_hz=-1.0), "features.filter.cutoff_hz"),
    (cfg_with(filter_order=0), "features.filter.order"),
    (cfg_with(filter_order=2.5), "features.filter.order"),
    (cfg_with(filter_type="bandpass"), "features.filter.type"),
    (cfg_with(filter_q=1.0), "features.filter.q"),
    (cfg_with(overlap=1.0), "features.overlap"),
    (cfg_with(overlap=0.3), "features.overlap=0.3"),
    (cfg_with(band_edges_hz=[0.5, 3.0, 1.5]), "features.band_edges_hz"),
    (cfg_with(band_edges_hz=[0.0, 3.0]), "features.band_edges_hz"),
    (cfg_with(band_edges_hz=[1.0, 30.0]), "features.band_edges_hz: last edge 30 Hz is above"),
    (cfg_with(band_edges_hz=[5.0]), "features.band_edges_hz"),
    (cfg_with(band_edges_hz=[1.0, 1.2, 5.0]), "band 1-1.2 Hz contains no FFT bin"),
    (cfg_with(stats=["rms", "median"]), "features.stats"),
    (cfg_with(stats=["rms", "rms"]), "features.stats"),
    (cfg_with(window_ms=2010), "features.window_ms=2010"),
    (cfg_with(window_ms=0), "features.window_ms"),
    (cfg_with(stride_ms=-5), "features.stride_ms"),
    (cfg_with(remove_mean="yes"), "features.remove_mean"),
    (cfg_with(log_power=1), "features.log_power"),
    (cfg_with(block="raw"), "features.block"),
    (cfg_with(band_edge_hz=[1.0, 2.0]), "features.band_edge_hz"),
    (_drop("overlap"), "features.overlap is missing"),
    (_drop("filter"), "features.filter is missing"),
])
def test_config_errors_name_the_field(cfg, field):
    with pytest.raises(McuforgeError) as err:
        make_spectral_plan(cfg, FS, 6)
    assert field in str(err.value)


def test_empty_band_error_suggests_longer_fft():
    with pytest.raises(McuforgeError, match="longer features.fft_length"):
        make_spectral_plan(cfg_with(band_edges_hz=[1.0, 1.2, 5.0]), FS, 6)
    # ...and the suggestion works: 256 bins at 0.195 Hz put one inside 1.0-1.2 Hz.
    make_spectral_plan(cfg_with(band_edges_hz=[1.0, 1.2, 5.0], fft_length=256,
                                window_ms=10000), FS, 6)


def test_filter_none_needs_no_cutoff_and_bad_rates_are_errors():
    cfg = base_cfg()
    cfg["filter"] = {"type": "none"}
    assert make_spectral_plan(cfg, FS, 6).biquad_coeffs is None
    with pytest.raises(McuforgeError, match="sample_rate_hz"):
        make_spectral_plan(base_cfg(), 0, 6)
    with pytest.raises(McuforgeError, match="channel"):
        make_spectral_plan(base_cfg(), FS, 0)


def test_plan_does_not_mutate_config():
    cfg = base_cfg()
    before = copy.deepcopy(cfg)
    make_spectral_plan(cfg, FS, 6)
    assert cfg == before
