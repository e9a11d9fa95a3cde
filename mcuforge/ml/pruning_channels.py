"""prune.method=channels: remove whole convolution filters and Dense units, keep a smaller dense model.

Saliency (mcuforge.ml.saliency) ranks the channels of every hidden layer. With prune.per_layer
null, channels are removed globally in order of saliency relative to their layer's mean (so layers
compare) until the model's MACs (prune.target=macs) or parameters (params) are at most prune.keep
of the original, never below prune.floor of a layer's channels. With prune.per_layer a list, layer
i keeps that fraction of its channels. The smaller model is rebuilt from the arch (channel_surgery),
the kept weights copied, then fine-tuned with the distillation loss.
"""
from __future__ import annotations

import math

import numpy as np

from mcuforge.errors import McuforgeError
from mcuforge.ml.channel_chain import Unit, chain, cost
from mcuforge.ml.saliency import METHODS, channel_saliency

TARGETS = ("macs", "params")


def _fraction(key: str, value, low_open: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        0 < value <= 1 if low_open else 0 <= value <= 1)
    if not ok:
        span = "(0, 1]" if low_open else "[0, 1]"
        raise McuforgeError(f"prune.{key}={value!r} must be a number in {span}")
    return float(value)


def validate(cfg: dict) -> None:
    """Reject a bad conf/prune/channels.yaml naming the field, before any training."""
    if cfg.get("saliency") not in METHODS:
        raise McuforgeError(f"prune.saliency={cfg.get('saliency')!r} is unknown; choose one of {', '.join(METHODS)}")
    if cfg.get("target") not in TARGETS:
        raise McuforgeError(f"prune.target={cfg.get('target')!r} is unknown; choose one of {', '.join(TARGETS)}")
    _fraction("keep", cfg.get("keep"))
    _fraction("floor", cfg.get("floor"), low_open=False)
    per_layer = cfg.get("per_layer")
    if per_layer is not None:
        if not isinstance(per_layer, (list, tuple)) or not per_layer:
            raise McuforgeError(f"prune.per_layer={per_layer!r} must be null or a list of fractions, "
                                "one per hidden layer (conv blocks, then dense layers)")
        for i, value in enumerate(per_layer):
            _fraction(f"per_layer[{i}]", value)
    for key in ("epochs", "batch_size"):
        if not isinstance(cfg.get(key), int) or isinstance(cfg.get(key), bool) or cfg[key] < 1:
            raise McuforgeError(f"prune.{key}={cfg.get(key)!r} must be a positive integer")


def select(units: list[Unit], saliencies: list[np.ndarray], cfg: dict) -> list[np.ndarray]:
    """The kept channel indices (ascending) of every hidden unit."""
    hidden = units[:-1]
    if cfg.get("per_layer") is not None:
        if len(cfg["per_layer"]) != len(hidden):
            raise McuforgeError(f"prune.per_layer has {len(cfg['per_layer'])} fractions but the student has "
                                f"{len(hidden)} hidden layers ({', '.join(u.name for u in hidden)})")
        counts = [max(1, round(f * u.width)) for f, u in zip(cfg["per_layer"], hidden)]
        return [np.sort(np.argsort(-s, kind="stable")[:n]) for s, n in zip(saliencies, counts)]
    floors = [max(1, math.ceil(cfg["floor"] * u.width)) for u in hidden]
    widths = [u.width for u in hidden]
    budget = cfg["keep"] * cost(units, widths, cfg["target"])
    if cost(units, floors, cfg["target"]) > budget:
        smallest = cost(units, floors, cfg["target"]) / cost(units, widths, cfg["target"])
        raise McuforgeError(f"prune.keep={cfg['keep']} cannot be reached with prune.floor={cfg['floor']} "
                            f"(the floors alone keep {smallest:.3f} of the {cfg['target']}): lower "
                            "prune.floor or raise prune.keep")
    alive = [np.ones(u.width, bool) for u in hidden]
    relative = [np.divide(s, s.mean(), out=np.zeros_like(s), where=s.mean() > 0) for s in saliencies]
    order = sorted((float(r[c]), i, c) for i, r in enumerate(relative) for c in range(len(r)))
    for _, i, c in order:
        if cost(units, widths, cfg["target"]) <= budget:
            break
        if widths[i] > floors[i]:
            alive[i][c], widths[i] = False, widths[i] - 1
    return [np.flatnonzero(a) for a in alive]


def plan(keras, model, cfg: dict) -> tuple[list[Unit], list[np.ndarray]]:
    units = chain(keras, model)
    saliencies = [channel_saliency(model, u, cfg["saliency"]) for u in units[:-1]]
    return units, select(units, saliencies, cfg)


def rebuild(keras, model, arch: dict, units: list[Unit], keep: list[np.ndarray], name: str = "student"):
    """(smaller model with the kept channels' weights, its arch)."""
    from mcuforge.ml.architectures import build_model
    from mcuforge.ml.channel_surgery import copy_kept, pruned_arch

    small_arch = pruned_arch(arch, units, [len(k) for k in keep], name)
    small = build_model(keras, small_arch, tuple(model.input_shape[1:]), units[-1].width, name)
    copy_kept(keras, model, small, units, keep)
    return small, small_arch


def summary(units: list[Unit], keep: list) -> dict:
    """Report fields: MACs and parameters before/after and the kept channels per layer."""
    full, kept = [u.width for u in units[:-1]], [len(k) for k in keep]
    before = {what: cost(units, full, what) for what in TARGETS}
    after = {what: cost(units, kept, what) for what in TARGETS}
    return {"macs_before": before["macs"], "macs_after": after["macs"],
            "macs_ratio": round(after["macs"] / before["macs"], 6),
            "params_before": before["params"], "params_after": after["params"],
            "params_ratio": round(after["params"] / before["params"], 6),
            "channels": {u.name: {"before": u.width, "after": n} for u, n in zip(units, kept)}}


def prune_channels(tf, keras, student, arch: dict, train: tuple, val: tuple, cfg: dict, loss, score):
    """(fine-tuned smaller model, its arch, report fields); score(model) is the test accuracy."""
    from mcuforge.ml import training

    validate(cfg)
    units, keep = plan(keras, student, cfg)
    small, small_arch = rebuild(keras, student, arch, units, keep)
    before_finetune = score(small)
    training.fit(tf, keras, small, train, val, cfg, loss, early_stopping=cfg.get("patience") is not None,
                 label="prune")
    return small, small_arch, {**summary(units, keep), "test_accuracy_before_finetune": before_finetune}
