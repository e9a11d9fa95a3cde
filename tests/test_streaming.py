"""Streaming KWS on QEMU (firmware/baremetal/stream_main.c): per-hop MFCC into a ring buffer, the
classifier every N hops, smoothing and threshold detection, equal to the Python twin
(mcuforge.firmware.streaming) on a generated stream; the stream generator and the scoring."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from conftest import ROOT
from mcuforge.codegen.tflm_runtime import io_quantization
from mcuforge.dsp.mfcc import make_mfcc_plan
from mcuforge.errors import McuforgeError
from mcuforge.firmware import baremetal, streaming
from mcuforge.firmware.stream_scoring import generate_stream, score
from test_firmware_audio import RATE, audio_build, pcm_clips, write_features_header  # noqa: F401 (fixture)

CFG = yaml.safe_load((ROOT / "conf" / "streaming" / "default.yaml").read_text())


def _stream(seconds: float, seed: int = 0):
    clips = pcm_clips(seed, 12)
    labels = np.arange(12) % 8
    cfg = {**CFG, "stream_s": seconds, "gap_s": [0.1, 0.4], "seed": seed}
    return generate_stream(clips, labels, cfg, RATE)


def test_stream_places_words_at_known_times_in_noise():
    pcm, events = _stream(6.0)
    pcm2, events2 = _stream(6.0)
    assert pcm.dtype == np.int16 and len(pcm) == 6 * RATE and np.array_equal(pcm, pcm2) and events == events2
    assert len(events) >= 6 and all(e["label"] >= 1 for e in events)
    starts = [e["start_s"] for e in events]
    assert starts == sorted(starts) and all(b["start_s"] >= a["end_s"] for a, b in zip(events, events[1:]))
    with pytest.raises(McuforgeError, match="needs both"):
        generate_stream(pcm_clips(0, 3), np.array([2, 3, 4]), CFG, RATE)


def test_score_matches_detections_to_events():
    events = [{"start_s": 1.0, "end_s": 2.0, "label": 2}, {"start_s": 3.0, "end_s": 4.0, "label": 1},
              {"start_s": 5.0, "end_s": 6.0, "label": 3}]
    times, classes = np.array([1.5, 1.7, 3.5, 6.3, 9.0]), np.array([2, 2, 4, 3, 2])
    s = score(events, times, classes, duration_s=36.0, tolerance_s=0.5)
    assert (s["detected"], s["keyword_events"], s["false_alarms"]) == (2, 2, 3)
    assert s["detection_rate"] == 1.0 and s["false_alarms_per_hour"] == 300.0


@pytest.mark.skipif(bool(baremetal.missing_tools()), reason="Arm toolchain / QEMU not installed")
@pytest.mark.parametrize("clip_norm", ["none", "mean"])
def test_streaming_on_qemu_equals_python_twin(audio_build, clip_norm, tmp_path):
    model, windows, _, out = audio_build
    features_dir = tmp_path / "features"
    cfg, scaler = write_features_header(model, windows, clip_norm, features_dir)
    quant = io_quantization(model)
    plan = make_mfcc_plan(cfg, RATE)
    hop_s = plan.config.hop_length / RATE
    # a threshold at the random model's median smoothed margin (from a first reference run), so it
    # fires on some classifications and not on others: the detections are compared, not judged
    pcm, _ = _stream(8.0, seed=1)
    ref = streaming.stream_reference(pcm, cfg, RATE, scaler, quant["input"], model, every=3)
    sums = ref["logits"][1:].astype(int) + ref["logits"][:-1]
    top2 = np.sort(sums, axis=1)[:, -2:]
    threshold = float(np.median(top2[:, 1] - top2[:, 0])) * quant["output"]["scale"] / 2
    defines = streaming.stream_defines({**CFG, "every_hops": 3, "smooth": 2, "threshold": threshold,
                                        "refractory_s": 0.1}, quant["output"]["scale"], hop_s)
    defines["MF_STREAM_FIRST_KEYWORD"] = 0   # every class may fire: the random model's argmax is not a keyword
    core = baremetal.CORES["cortex-m4"]
    elf = streaming.build_stream_image(core, out / "generated", "kws", features_dir, defines, tmp_path / "build")
    device = streaming.run_stream(core, elf, pcm, 8)
    assert device["hop_count"] == ref["hop_count"] == (len(pcm) - plan.config.frame_length) // plan.config.hop_length + 1
    assert np.array_equal(device["hops"], ref["hops"]) and len(ref["hops"]) > 100
    assert np.array_equal(device["logits"], ref["logits"])
    expected = streaming.detect(ref["logits"], 2, defines["MF_STREAM_THRESHOLD"], defines["MF_STREAM_REFRACTORY"],
                                first_keyword=0)
    print(f"\nthreshold {defines['MF_STREAM_THRESHOLD']}, detections {(expected >= 0).sum()}/{len(expected)}")
    assert np.array_equal(device["detections"], expected) and 0 < (expected >= 0).sum() < len(expected) // 2

    n = plan.config.n_frames
    counts = streaming.count_per_hop(core, elf, pcm[: (n + 5) * plan.config.hop_length + plan.config.frame_length])
    classify = [c for h, c in enumerate(counts) if h + 1 >= n and (h + 1) % 3 == 0]
    frame_only = [c for h, c in enumerate(counts) if not (h + 1 >= n and (h + 1) % 3 == 0)]
    assert len(counts) == n + 6 and min(classify) > 3 * max(frame_only) > 0


def test_pick_threshold_keeps_false_alarms_within_the_budget():
    from mcuforge.firmware.stream_scoring import pick_threshold

    # 100 classifications 0.1 s apart, classes [silence, unknown, kw2, kw3]: silence leads by 50 steps
    # except a strong kw2 (margin 100) at 2 s, a weak kw3 (margin 15) at 6 s and a kw2 blip (margin 20)
    # at 9 s that is no word
    logits = np.zeros((100, 4), np.int8)
    logits[:, 0] = 50
    for row, cls, margin in ((20, 2, 100), (60, 3, 15), (90, 2, 20)):
        logits[row] = 0
        logits[row, cls] = margin
    times = np.arange(100) * 0.1
    events = [{"start_s": 1.5, "end_s": 2.5, "label": 2}, {"start_s": 5.5, "end_s": 6.5, "label": 3}]
    defines = {"MF_STREAM_SMOOTH": 1, "MF_STREAM_REFRACTORY": 5, "MF_STREAM_FIRST_KEYWORD": 2}

    strict = pick_threshold(logits, times, events, 10.0, defines, 0.5, max_false_alarms_per_hour=0)
    # no false alarm: above the blip; the strong word only; the middle of 21 .. 100
    assert 20 < strict["threshold_steps"] <= 100 and abs(strict["threshold_steps"] - 60) <= 1
    assert (strict["scores"]["detected"], strict["scores"]["false_alarms"]) == (1, 0)
    loose = pick_threshold(logits, times, events, 10.0, defines, 0.5, max_false_alarms_per_hour=360)
    assert loose["threshold_steps"] <= 15     # both words, and the blip: 1 false alarm in 10 s = 360 / h
    assert (loose["scores"]["detected"], loose["scores"]["false_alarms"]) == (2, 1)
    with pytest.raises(McuforgeError, match="max_false_alarms_per_hour=-1"):
        pick_threshold(logits, times, events, 10.0, defines, 0.5, max_false_alarms_per_hour=-1)
