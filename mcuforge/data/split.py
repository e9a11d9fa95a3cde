"""Grouped train/val/test split of the canonical table, stratified by label as far as groups allow.

Groups (subjects or recordings) never straddle two splits. How many groups each split gets
comes from the fractions by `groups_per_split` (largest remainder, every split at least one
group). Which groups go where: N_CANDIDATES seeded random assignments are scored and the one
whose per-split label distribution (in rows) is closest to the overall one wins, among those
that put every class (every name in dataset.labels) in every split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mcuforge.errors import McuforgeError
from mcuforge.data.ingest.table import channels_of

SPLITS = ("train", "val", "test")
GROUP_BY = ("subject", "recording")
N_CANDIDATES = 20_000        # seeded random assignments evaluated (~0.2 s for 140 groups)
BATCH = 250                  # candidates scored at once (bounds memory)
TIE_ORDER = ("test", "val", "train")   # who gets a leftover group when remainders tie
ROUNDING = ("largest remainder: each split gets floor(fraction x groups), at least 1; leftover "
            "groups go to the splits furthest below their exact share, ties to test, then val, "
            "then train")


@dataclass(frozen=True)
class SplitSpec:
    """The `split` section of params.yaml, checked, and the classes (`dataset.labels`)."""

    fractions: dict[str, float]
    group_by: str
    seed: int
    labels: tuple[str, ...]


def split_spec(params: dict) -> SplitSpec:
    """Read and check params.yaml's `split` section and `dataset.labels` (names values and fix)."""
    section = params.get("split") if isinstance(params, dict) else None
    if not isinstance(section, dict):
        raise McuforgeError("params.yaml: missing `split` section; compose it with "
                            "`python -m mcuforge.experiments.compose`")
    for key in (*SPLITS, "group_by", "seed"):
        if key not in section:
            raise McuforgeError(f"params.yaml: missing `split.{key}`; add it to conf/split/ and "
                                "recompose with `python -m mcuforge.experiments.compose`")
    fractions = {name: section[name] for name in SPLITS}
    shown = ", ".join(f"split.{name}={value!r}" for name, value in fractions.items())
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in fractions.values()):
        raise McuforgeError(f"params.yaml: split fractions must be numbers: {shown}")
    if any(v <= 0 for v in fractions.values()):
        raise McuforgeError(f"params.yaml: split fractions must be positive (every split needs at "
                            f"least one group): {shown}")
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise McuforgeError(f"params.yaml: split fractions must sum to 1, but {shown} sum to "
                            f"{sum(fractions.values()):.6g}")
    if section["group_by"] not in GROUP_BY:
        raise McuforgeError(f"params.yaml: split.group_by={section['group_by']!r} is unknown; use "
                            f"one of {list(GROUP_BY)}")
    seed = section["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise McuforgeError(f"params.yaml: split.seed must be a non-negative integer, got {seed!r}")
    labels = (params.get("dataset") or {}).get("labels")
    if not isinstance(labels, list) or not labels:
        raise McuforgeError(f"params.yaml: dataset.labels must list the classes, got {labels!r}")
    return SplitSpec({k: float(v) for k, v in fractions.items()}, section["group_by"], seed,
                     tuple(labels))


def groups_per_split(n_groups: int, fractions: dict[str, float]) -> dict[str, int]:
    """How many groups each split gets (see ROUNDING). E.g. 10 groups, 0.7/0.15/0.15 -> 7/1/2."""
    if n_groups < len(SPLITS):
        raise McuforgeError(f"only {n_groups} group(s) but the {len(SPLITS)} splits need at least "
                            "one each; add recordings (or subjects), or use split.group_by=recording")
    share = {name: fractions[name] * n_groups for name in SPLITS}
    counts = {name: max(1, int(np.floor(share[name] + 1e-9))) for name in SPLITS}
    while sum(counts.values()) < n_groups:   # hand out leftovers
        # max() keeps the first of equal keys, so ties follow TIE_ORDER
        name = max(TIE_ORDER, key=lambda s: round(share[s] - counts[s], 9))
        counts[name] += 1
    while sum(counts.values()) > n_groups:   # the "at least 1" rule overshot: take back
        name = max((s for s in TIE_ORDER[::-1] if counts[s] > 1),
                   key=lambda s: round(counts[s] - share[s], 9))
        counts[name] -= 1
    return counts


def choose_assignment(group_label_rows: np.ndarray, sizes: dict[str, int], seed: int,
                      classes: list[str], groups: list[str]) -> np.ndarray:
    """Split index (into SPLITS) per group: the best of N_CANDIDATES seeded random assignments.

    `group_label_rows[g, c]` is the number of rows of class c in group g. Score = sum over
    splits of the total-variation distance between the split's label distribution and the
    overall one. Candidates missing a class in a split are rejected; the first best wins.
    """
    n_groups = len(group_label_rows)
    template = np.repeat(np.arange(len(SPLITS), dtype=np.int8), [sizes[name] for name in SPLITS])
    overall = group_label_rows.sum(axis=0) / group_label_rows.sum()
    weights = group_label_rows.astype(np.float64)
    rng = np.random.default_rng(seed)
    best, best_score, fewest_missing = None, np.inf, None
    for start in range(0, N_CANDIDATES, BATCH):
        batch = np.stack([template[rng.permutation(n_groups)]
                          for _ in range(min(BATCH, N_CANDIDATES - start))])   # (cand, group)
        split_rows = np.stack([(batch == i) @ weights for i in range(len(SPLITS))], axis=1)
        distribution = split_rows / np.maximum(split_rows.sum(axis=2, keepdims=True), 1)
        score = 0.5 * np.abs(distribution - overall).sum(axis=(1, 2))   # (cand,)
        missing = (split_rows == 0).sum(axis=(1, 2))
        score[missing > 0] = np.inf
        if score.min() < best_score:
            best_score, best = score.min(), batch[int(np.argmin(score))]
        if fewest_missing is None or missing.min() < fewest_missing[0]:
            fewest_missing = (missing.min(), split_rows[int(np.argmin(missing))])
    if best is None:
        split_index, class_index = np.argwhere(fewest_missing[1] == 0)[0]
        holders = [g for g, n in zip(groups, group_label_rows[:, class_index]) if n]
        raise McuforgeError(
            f"no grouping puts every class in every split: in the closest of {N_CANDIDATES} seeded "
            f"assignments of {n_groups} groups ({sizes}), class {classes[class_index]!r} is missing "
            f"from split {SPLITS[split_index]!r} (the class occurs only in {len(holders)} group(s): "
            f"{holders[:10]}). Try split.group_by=recording, other split fractions, or more data "
            "for that class")
    return best


def split_table(table: pd.DataFrame, spec: SplitSpec) -> tuple[pd.DataFrame, dict]:
    """The table plus a `split` column (same row order), and the split report."""
    channels_of(table)  # a canonical table from stages.ingest
    classes = check_classes(table, spec.labels)
    groups = sorted(table[spec.group_by].unique())
    sizes = groups_per_split(len(groups), spec.fractions)
    group_label_rows = (pd.crosstab(table[spec.group_by], table["label"])
                        .reindex(index=groups, columns=classes, fill_value=0).to_numpy())
    assignment = choose_assignment(group_label_rows, sizes, spec.seed, classes, groups)
    split_of_group = {g: SPLITS[i] for g, i in zip(groups, assignment)}
    result = table.assign(split=table[spec.group_by].map(split_of_group).astype(str))
    return result, split_report(result, spec, classes)


def check_classes(table: pd.DataFrame, labels: tuple[str, ...]) -> list[str]:
    """dataset.labels, each of which must have rows; the table may hold no other label."""
    present = set(table["label"].unique())
    unknown = sorted(present - set(labels))
    if unknown:
        raise McuforgeError(f"data/ingested.parquet has labels {unknown} that are not in "
                            f"dataset.labels {list(labels)}; rerun `python -m stages.ingest`")
    empty = [label for label in labels if label not in present]
    if empty:
        raise McuforgeError(f"class {empty[0]!r} (dataset.labels) has no rows, so it cannot be in "
                            "every split; add recordings of it or remove it from dataset.labels")
    return list(labels)


def split_report(result: pd.DataFrame, spec: SplitSpec, classes: list[str]) -> dict:
    """Counts per split, computed from the split table itself (group_overlap must be 0)."""
    splits_per_group = result.groupby(spec.group_by)["split"].nunique()
    group_overlap = int((splits_per_group > 1).sum())
    if group_overlap:  # a bug, not bad input
        raise RuntimeError(f"{group_overlap} {spec.group_by} group(s) ended up in two splits")
    parts = {name: result[result["split"] == name] for name in SPLITS}
    class_counts = {name: {c: int((part["label"] == c).sum()) for c in classes}
                    for name, part in parts.items()}
    overall = result["label"].value_counts(normalize=True)
    label_distance = {name: round(0.5 * sum(abs(n / max(len(parts[name]), 1) - float(overall[c]))
                                            for c, n in counts.items()), 6)
                      for name, counts in class_counts.items()}
    return {
        "group_by": spec.group_by,
        "seed": spec.seed,
        "fractions": spec.fractions,
        "rounding": ROUNDING,
        "candidates_evaluated": N_CANDIDATES,
        "counts": {name: {"rows": int(len(part)),
                          "recordings": int(part["recording"].nunique()),
                          "groups": int(part[spec.group_by].nunique())}
                   for name, part in parts.items()},
        "class_counts": class_counts,
        # Total-variation distance of each split's label distribution from the overall one.
        "label_distance": label_distance,
        "group_overlap": group_overlap,
        "groups": {name: sorted(part[spec.group_by].unique().tolist())
                   for name, part in parts.items()},
    }
