"""prune.method=channels: remove whole convolution filters and Dense units, keep a smaller dense model.

Saliency (mcuforge.ml.saliency) ranks the channels of every hidden layer. With prune.per_layer
null, channels are removed globally in order of saliency relative to their layer's mean (so layers
compare) until the model's MACs (prune.target=macs) or parameters (params) are at most prune.keep
of the original, never below prune.floor of a layer's channels. With prune.per_layer a list, layer
i keeps that fraction of its channels. The smaller model is rebuilt from the arch (channel_surgery),
the kept weights copied, then fine-tuned with the distillation loss.

With prune.rounds R > 1 this happens R times (iterative pruning): round r keeps prune.keep^(r/R)
of the original MACs (and per_layer fractions f^(r/R) of the original widths; floors always of the
original widths), each round fine-tuned for prune.epochs, so every cut is small and the network
recovers before the next one.
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
    for key in ("epochs", "batch_size", "rounds"):
        if not isinstance(cfg.get(key), int) or isinstance(cfg.get(key), bool) or cfg[key] < 1:
            raise McuforgeError(f"prune.{key}={cfg.get(key)!r} must be a positive integer")


def select(units: list[Unit], saliencies: list[np.ndarray], cfg: dict,
           original: list[int] | None = None) -> list[np.ndarray]:
    """The kept channel indices (ascending) of every hidden unit. Fractions (keep, floor, per_layer)
    are of the `original` hidden widths (default: the units' own widths, i.e. a first round)."""
    hidden = units[:-1]
    widths = [u.width for u in hidden]
    original = list(original or widths)
    if cfg.get("per_layer") is not None:
        if len(cfg["per_layer"]) != len(hidden):
            raise McuforgeError(f"prune.per_layer has {len(cfg['per_layer'])} fractions but the student has "
                                f"{len(hidden)} hidden layers ({', '.join(u.name for u in hidden)})")
        counts = [min(w, max(1, round(f * o))) for f, o, w in zip(cfg["per_layer"], original, widths)]
        return [np.sort(np.argsort(-s, kind="stable")[:n]) for s, n in zip(saliencies, counts)]
    floors = [min(w, max(1, math.ceil(cfg["floor"] * o))) for o, w in zip(original, widths)]
    budget = cfg["keep"] * cost(units, original, cfg["target"])
    if cost(units, floors, cfg["target"]) > budget:
        smallest = cost(units, floors, cfg["target"]) / cost(units, original, cfg["target"])
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


def plan(keras, model, cfg: dict, original: list[int] | None = None) -> tuple[list[Unit], list[np.ndarray]]:
    units = chain(keras, model)
    saliencies = [channel_saliency(model, u, cfg["saliency"]) for u in units[:-1]]
    return units, select(units, saliencies, cfg, original)


def round_cfg(cfg: dict, r: int) -> dict:
    """Round r (1-based) of prune.rounds: keep^(r/R) and per_layer fractions f^(r/R)."""
    share = r / cfg["rounds"]
    per_layer = cfg.get("per_layer")
    return {**cfg, "keep": cfg["keep"] ** share,
            "per_layer": None if per_layer is None else [f ** share for f in per_layer]}


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
    units, _ = plan(keras, student, cfg)   # the final target is reachable: checked before any training
    original = [u.width for u in units[:-1]]
    model, rounds = student, []
    for r in range(1, cfg["rounds"] + 1):
        step_units, keep = plan(keras, model, round_cfg(cfg, r), original)
        model, arch = rebuild(keras, model, arch, step_units, keep)
        before = score(model)
        training.fit(tf, keras, model, train, val, cfg, loss, early_stopping=cfg.get("patience") is not None,
                     label=f"prune round {r}/{cfg['rounds']}" if cfg["rounds"] > 1 else "prune", group="prune")
        rounds.append({"macs_ratio": round(cost(units, [len(k) for k in keep]) / cost(units, original), 6),
                       "test_accuracy_before_finetune": before, "test_accuracy": score(model)})
    return model, arch, {**summary(units, [range(w) for w in (u.width for u in chain(keras, model)[:-1])]),
                         "test_accuracy_before_finetune": rounds[0]["test_accuracy_before_finetune"],
                         "rounds": rounds}
