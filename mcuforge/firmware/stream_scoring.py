"""The long test stream for streaming KWS and its scoring.

generate_stream places test-split words (keywords and unknown words, whole fixed-length clips) at
known times in generated noise (white, pink or brown per segment, like Speech Commands' synthetic
noise files) and returns int16 PCM plus the events; score matches the device's detections to them."""
from __future__ import annotations

import numpy as np

from mcuforge.errors import McuforgeError

SEGMENT_S = 5.0   # the noise colour and level change every 5 s


def _noise(rng, length: int, rate: float, levels: tuple[float, float]) -> np.ndarray:
    out = np.empty(length)
    seg = int(SEGMENT_S * rate)
    for start in range(0, length, seg):
        n = min(seg, length - start)
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.maximum(np.fft.rfftfreq(n, 1 / rate), 1.0)
        power = {"white": 0.0, "pink": 1.0, "brown": 2.0}[str(rng.choice(["white", "pink", "brown"]))]
        shaped = np.fft.irfft(spectrum / freqs ** (power / 2), n)
        out[start:start + n] = shaped / (np.sqrt(np.mean(shaped ** 2)) + 1e-12) * rng.uniform(*levels)
    return out


def generate_stream(clips: np.ndarray, labels: np.ndarray, cfg: dict, rate: float,
                    first_keyword: int = 2) -> tuple[np.ndarray, list[dict]]:
    """(int16 PCM stream, events [{start_s, end_s, label}]) from test clips (N, T[, 1]) = pcm / 32768."""
    clips = np.asarray(clips, np.float64).reshape(len(clips), -1)
    labels = np.asarray(labels)
    keywords, unknown = np.flatnonzero(labels >= first_keyword), np.flatnonzero(labels == first_keyword - 1)
    if len(keywords) == 0 or (cfg["unknown_share"] > 0 and len(unknown) == 0):
        raise McuforgeError(f"streaming test stream: the test split has {len(keywords)} keyword and "
                            f"{len(unknown)} unknown clips; it needs both (streaming.unknown_share > 0)")
    rng = np.random.default_rng(cfg["seed"])
    length = int(cfg["stream_s"] * rate)
    audio = _noise(rng, length, rate, tuple(cfg["noise_level"]))
    events, t = [], rng.uniform(*cfg["gap_s"])
    while int((t * rate)) + clips.shape[1] <= length:
        pool = unknown if rng.random() < cfg["unknown_share"] else keywords
        i = int(rng.choice(pool))
        start = int(t * rate)
        audio[start:start + clips.shape[1]] += clips[i]
        events.append({"start_s": start / rate, "end_s": (start + clips.shape[1]) / rate, "label": int(labels[i]),
                       "clip": i})
        t = (start + clips.shape[1]) / rate + rng.uniform(*cfg["gap_s"])
    return np.clip(np.rint(audio * 32768), -32768, 32767).astype(np.int16), events


def score(events: list[dict], times_s: np.ndarray, classes: np.ndarray, duration_s: float,
          tolerance_s: float, first_keyword: int = 2) -> dict:
    """Detection rate over keyword events (a detection of the event's class from its start to its end
    + tolerance; one detection per event) and false alarms (every other detection) per hour."""
    used = np.zeros(len(times_s), bool)
    hit = 0
    keyword_events = [e for e in events if e["label"] >= first_keyword]
    for e in keyword_events:
        match = np.flatnonzero(~used & (classes == e["label"]) & (times_s >= e["start_s"])
                               & (times_s <= e["end_s"] + tolerance_s))
        if len(match):
            used[match[0]] = True
            hit += 1
    false_alarms = int(np.sum(~used))
    return {"keyword_events": len(keyword_events), "unknown_events": len(events) - len(keyword_events),
            "detections": int(len(times_s)), "detected": hit,
            "detection_rate": round(hit / max(len(keyword_events), 1), 4),
            "false_alarms": false_alarms, "stream_s": duration_s,
            "false_alarms_per_hour": round(false_alarms * 3600.0 / duration_s, 2)}


def pick_threshold(logits: np.ndarray, times_s: np.ndarray, events: list[dict], duration_s: float,
                   defines: dict, tolerance_s: float, max_false_alarms_per_hour: float) -> dict:
    """The detection threshold (int8 logit steps x smooth) chosen on a stream that is not the test
    stream (the validation split's): of the thresholds whose false alarms per hour stay within the
    budget, those with the highest detection rate, then the fewest false alarms; of them the median
    (the farthest from both edges when they are a run). Returns it with its scores on that stream."""
    from mcuforge.firmware.streaming import detect

    if not max_false_alarms_per_hour >= 0:
        raise McuforgeError(f"streaming.max_false_alarms_per_hour={max_false_alarms_per_hour} must be >= 0 "
                            "(conf/streaming/; null keeps streaming.threshold)")

    def detections(threshold: int) -> np.ndarray:
        return detect(logits, defines["MF_STREAM_SMOOTH"], threshold, defines["MF_STREAM_REFRACTORY"],
                      defines["MF_STREAM_FIRST_KEYWORD"])

    # every threshold that changes a detection lies in 1 .. the largest smoothed margin + 1
    ceiling = int(np.abs(logits.astype(np.int64)).sum(axis=1).max()) * defines["MF_STREAM_SMOOTH"] + 1
    feasible = []
    for threshold in range(1, ceiling + 1):
        found = detections(threshold)
        fired = found >= 0
        s = score(events, times_s[fired], found[fired], duration_s, tolerance_s)
        if s["false_alarms_per_hour"] <= max_false_alarms_per_hour:
            feasible.append(((s["detection_rate"], -s["false_alarms"]), threshold, s))
        if not fired.any():   # no detection at all: no false alarm, so feasible is not empty
            break
    top = max(rank for rank, _, _ in feasible)
    _, threshold, s = [f for f in feasible if f[0] == top][(sum(f[0] == top for f in feasible) - 1) // 2]
    return {"threshold_steps": threshold, "scores": s}
