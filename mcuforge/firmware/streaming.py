"""Streaming keyword spotting: the Python twin of firmware/baremetal/stream_main.c, its QEMU run,
and the generated test stream it is scored on.

    image = build_stream_image(core, generated_dir, ident, features_dir, defines, build_dir)
    run = run_stream(core, image, pcm, output_size)             # device: hops, records
    ref = stream_reference(pcm, features_cfg, rate, scaler, quant, model, every)
    detections = detect(ref["logits"], smooth, threshold_steps, refractory, first_keyword)
    pcm, events = generate_stream(clips, labels, cfg, rate)     # test words in generated noise
    scores = score(events, detections_at, ...)                  # detection rate, false alarms / hour

A hop h holds frame h (samples [h * hop, h * hop + frame)); after hop h with h + 1 >= n_frames and
(h + 1) % every == 0 the classifier sees frames h - n_frames + 1 .. h, which is the features
stage's MFCC of the window that starts at sample (h - n_frames + 1) * hop (mfcc_features uses only
its first (n_frames - 1) * hop + frame samples). With features.clip_norm: mean those frames are
normalised together at each classification, as the features stage normalises that window's clip.
Smoothing and detection: stream_main.c's comment.
"""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np

from mcuforge.data.normalization import standardize
from mcuforge.dsp import host_dsp
from mcuforge.dsp.mfcc import clip_normalize, make_mfcc_plan, mfcc_frame, mfcc_instance
from mcuforge.errors import McuforgeError
from mcuforge.firmware import baremetal, firmware_image
from mcuforge.codegen.tflm_runtime import quantize_input, run_int8

STREAM_FILE, RECORDS_FILE = "stream.bin", "records.bin"
KWS_STREAM_C = firmware_image.ROOT / "firmware" / "src" / "kws_stream.c"
FIRST_KEYWORD = 2   # class order [silence, unknown, keywords...]


def stream_defines(cfg: dict, output_scale: float, hop_s: float) -> dict:
    """stream_main.c's compile-time settings from conf/streaming (threshold in int8 logit steps)."""
    smooth, every = int(cfg["smooth"]), int(cfg["every_hops"])
    if smooth < 1 or every < 1:
        raise McuforgeError(f"streaming.smooth={smooth} / streaming.every_hops={every}: both must be >= 1")
    return {"MF_STREAM_EVERY": every, "MF_STREAM_SMOOTH": smooth,
            "MF_STREAM_THRESHOLD": math.ceil(float(cfg["threshold"]) * smooth / output_scale),
            "MF_STREAM_REFRACTORY": math.ceil(float(cfg["refractory_s"]) / (hop_s * every)),
            "MF_STREAM_FIRST_KEYWORD": FIRST_KEYWORD}


def build_stream_image(core, generated_dir: Path, ident: str, features_dir: Path, defines: dict,
                       build_dir: Path) -> Path:
    build_dir = Path(build_dir).resolve()
    objects, flags = firmware_image.compile_objects(core, generated_dir, ident, features_dir, "mfcc", build_dir)
    flags = [*flags, f"-I{KWS_STREAM_C.parent}"]   # the loop: firmware/src/kws_stream.c (Zephyr app's too)
    objects.append(firmware_image._compile(core, KWS_STREAM_C, build_dir / "obj" / "kws_stream.o", flags))
    harness = {**{k: str(v) for k, v in defines.items()}, "MF_MODEL": ident, "MF_MODEL_UPPER": ident.upper(),
               "MF_STREAM_PATH": f'"{STREAM_FILE}"', "MF_RECORDS_PATH": f'"{RECORDS_FILE}"'}
    return firmware_image.link_harness(core, objects, flags, firmware_image.HARNESS_DIR / "stream_main.c",
                                       harness, build_dir / "stream.elf")


def _records(raw: bytes, output_size: int) -> dict:
    size = 4 + output_size + 1
    rows = np.frombuffer(raw, np.uint8).reshape(-1, size)
    return {"hops": rows[:, :4].copy().view("<i4")[:, 0].astype(np.int64),
            "logits": rows[:, 4:4 + output_size].view(np.int8).copy(),
            "detections": rows[:, -1].view(np.int8).astype(np.int64)}


def run_stream(core, elf: Path, pcm: np.ndarray, output_size: int, timeout: float = 3600.0) -> dict:
    """The whole stream through the image on core's QEMU machine (no instruction counting)."""
    build_dir = Path(elf).parent
    (build_dir / STREAM_FILE).write_bytes(np.ascontiguousarray(pcm, "<i2").tobytes())
    cmd = baremetal.qemu_command(core, elf)
    cut = cmd.index("-icount")
    result = baremetal._run(cmd[:cut] + cmd[cut + 2:], f"qemu {core.machine}", timeout=timeout,
                            cwd=build_dir, stdin=subprocess.DEVNULL)
    found = {k: int(v) for k, _, v in (line.partition(": ") for line in result.stdout.splitlines())
             if k in ("hops", "classifications", "stack") and v.strip().isdigit()}
    if result.returncode != 0 or "hops" not in found:
        raise McuforgeError(f"{elf} on {core.machine}: exit {result.returncode} (3 file error, 4 features, "
                            f"5 invoke)\n{result.stdout}{result.stderr}")
    records = _records((build_dir / RECORDS_FILE).read_bytes(), output_size)
    (build_dir / STREAM_FILE).unlink()
    (build_dir / RECORDS_FILE).unlink()
    return {**records, "hop_count": found["hops"], "stack_bytes": found["stack"]}


def count_per_hop(core, elf: Path, pcm: np.ndarray) -> list[int]:
    """Exact executed instructions of each hop (frame + any classification) of a short stream."""
    build_dir = Path(elf).parent
    (build_dir / STREAM_FILE).write_bytes(np.ascontiguousarray(pcm, "<i2").tobytes())
    counts = baremetal.count_marker_pairs(core, elf, cwd=build_dir)["counts"]
    for name in (STREAM_FILE, RECORDS_FILE):
        (build_dir / name).unlink(missing_ok=True)
    return counts


def stream_reference(pcm: np.ndarray, features_cfg: dict, rate: float, scaler: dict, quant: dict,
                     model: bytes, every: int) -> dict:
    """What the device must compute: per classification its hop and int8 logits."""
    ref = stream_inputs(pcm, features_cfg, rate, scaler, quant, every)
    return {"hops": ref["hops"], "logits": run_int8(model, ref["inputs"]), "hop_count": ref["hop_count"]}


def stream_inputs(pcm: np.ndarray, features_cfg: dict, rate: float, scaler: dict, quant: dict,
                  every: int) -> dict:
    """Per classification its hop and the int8 model input (n_frames x coefficients, flattened)."""
    plan = make_mfcc_plan(features_cfg, rate)
    c = plan.config
    samples = np.asarray(pcm, np.int16).astype(np.float32) / np.float32(32768.0)
    n_hops = (len(samples) - c.frame_length) // c.hop_length + 1
    if c.variant == "f32":   # the device's float bits (host_dsp), as the features stage
        frames = host_dsp.mfcc_f32_stream(samples, n_hops, plan)
    else:                    # q15: integer arithmetic, the same bits through the cmsisdsp wheel
        instance = mfcc_instance(plan)
        frames = np.stack([mfcc_frame(samples[h * c.hop_length: h * c.hop_length + c.frame_length], plan,
                                      instance) for h in range(n_hops)])
    hops = np.array([h for h in range(c.n_frames - 1, n_hops) if (h + 1) % every == 0], np.int64)
    maps = frames[hops[:, None] + np.arange(1 - c.n_frames, 1)]   # per classification, oldest frame first
    # clip_norm: mean normalises each classification's frames as one clip (none: unchanged). Standardising
    # and quantising are per element, so quantising frames as they arrive (kws_stream.c's int8 ring
    # without clip_norm) gives these same bytes.
    coded = quantize_input(standardize(clip_normalize(maps, plan), scaler), quant["scale"], quant["zero_point"])
    return {"hops": hops, "inputs": coded.reshape(len(hops), c.n_frames * c.coefficients), "hop_count": n_hops}


def detect(logits: np.ndarray, smooth: int, threshold: int, refractory: int,
           first_keyword: int = FIRST_KEYWORD) -> np.ndarray:
    """stream_main.c's detect() over all classifications: the detected class or -1 per row."""
    sums = np.zeros(logits.shape[1], np.int64)
    out, quiet = np.full(len(logits), -1, np.int64), 0
    for k, row in enumerate(logits.astype(np.int64)):
        sums += row - (logits[k - smooth].astype(np.int64) if k >= smooth else 0)
        best = int(np.argmax(sums))
        runner_up = np.max(np.delete(sums, best))
        quiet = max(quiet - 1, 0)
        if k + 1 >= smooth and best >= first_keyword and quiet == 0 and sums[best] - runner_up >= threshold:
            out[k], quiet = best, refractory + 1
    return out
