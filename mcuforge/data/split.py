"""Grouped train/val/test split of the canonical table, stratified by label as far as groups allow.

Groups (subjects or recordings) never straddle two splits. How many groups each split gets
comes from the fractions by `groups_per_split` (largest remainder, every split at least one
group), or from the lengths of split.test_groups / split.val_groups when the user names them.
Which groups go where: every assignment of the free groups (or, when there are more than
N_CANDIDATES, that many random ones drawn with SEARCH_SEED) is scored by how far each split's
label distribution (in rows) is from the overall one; assignments that miss a class (a name in
dataset.labels) in some split are out. The assignments within split.tolerance of the best score
are the near-optimal pool, ranked by score; split.seed = k takes the k-th of them (0: the best,
wrapping around past the last), so different seeds give different, equally honest splits.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mcuforge.errors import McuforgeError
from mcuforge.data.ingest.table import channels_of

SPLITS = ("train", "val", "test")
GROUP_BY = ("subject", "recording")
EXPLICIT = {"val": "val_groups", "test": "test_groups"}   # split -> its split.<key> of named groups
N_CANDIDATES = 20_000        # assignments scored at most (~0.2 s for 140 groups)
SEARCH_SEED = 0              # draws the candidates when they cannot all be enumerated
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
    tolerance: float = 0.01
    named: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (split, groups) for split.*_groups


def split_spec(params: dict) -> SplitSpec:
    """Read and check params.yaml's `split` section and `dataset.labels` (names values and fix)."""
    section = params.get("split") if isinstance(params, dict) else None
    if not isinstance(section, dict):
        raise McuforgeError("params.yaml: missing `split` section; compose it with "
                            "`mcuforge compose`")
    for key in (*SPLITS, "group_by", "seed", "tolerance", *EXPLICIT.values()):
        if key not in section:
            raise McuforgeError(f"params.yaml: missing `split.{key}`; add it to conf/split/ and "
                                "recompose with `mcuforge compose`")
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
    tolerance = section["tolerance"]
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or tolerance < 0:
        raise McuforgeError(f"params.yaml: split.tolerance must be a number >= 0 (how much worse "
                            f"than the best score a chosen split may be), got {tolerance!r}")
    labels = (params.get("dataset") or {}).get("labels")
    if not isinstance(labels, list) or not labels:
        raise McuforgeError(f"params.yaml: dataset.labels must list the classes, got {labels!r}")
    if "keywords" in params["dataset"]:   # keyword spotting: silence is made per split after it
        labels = [label for label in labels if label != "silence"]
    return SplitSpec({k: float(v) for k, v in fractions.items()}, section["group_by"], seed,
                     tuple(labels), float(tolerance), named_groups(section))


def named_groups(section: dict) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """split.val_groups / split.test_groups: null, or a non-empty list of distinct group ids."""
    named = []
    for split, key in EXPLICIT.items():
        value = section[key]
        if value is None:
            continue
        if (not isinstance(value, list) or not value
                or not all(isinstance(g, (str, int)) and not isinstance(g, bool) for g in value)):
            raise McuforgeError(f"params.yaml: split.{key} must be null or a non-empty list of "
                                f"group ids (e.g. [s01, s02]), got {value!r}")
        ids = tuple(str(g) for g in value)
        repeated = sorted({g for g in ids if ids.count(g) > 1})
        if repeated:
            raise McuforgeError(f"params.yaml: split.{key} lists {repeated} more than once")
        named.append((split, ids))
    if len(named) == 2 and set(named[0][1]) & set(named[1][1]):
        both = sorted(set(named[0][1]) & set(named[1][1]))
        raise McuforgeError(f"params.yaml: groups {both} are in both split.val_groups and "
                            "split.test_groups; a group can be in one split only")
    return tuple(named)


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


def candidates(n_free: int, free_sizes: list[int]) -> tuple[np.ndarray, bool]:
    """Split index per free group, one row per candidate: all distinct assignments with these
    sizes if there are at most N_CANDIDATES (then True), else N_CANDIDATES random ones drawn
    with SEARCH_SEED (then False)."""
    total, left = 1, n_free
    for size in free_sizes[1:]:
        total, left = total * math.comb(left, size), left - size
    if total > N_CANDIDATES:
        template = np.repeat(np.arange(len(SPLITS), dtype=np.int8), free_sizes)
        rng = np.random.default_rng(SEARCH_SEED)
        return np.stack([template[rng.permutation(n_free)] for _ in range(N_CANDIDATES)]), False
    rows = []
    for val in itertools.combinations(range(n_free), free_sizes[1]):
        rest = [g for g in range(n_free) if g not in val]
        for test in itertools.combinations(rest, free_sizes[2]):
            row = np.zeros(n_free, np.int8)
            row[list(val)], row[list(test)] = 1, 2
            rows.append(row)
    return np.stack(rows), True


def score_assignments(batch: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(score, rows per split and class) of each candidate row; score = sum over splits of the
    total-variation distance of the split's label distribution from the overall one, inf when a
    class is missing from a split."""
    overall = weights.sum(axis=0) / weights.sum()
    split_rows = np.stack([(batch == i) @ weights for i in range(len(SPLITS))], axis=1)
    distribution = split_rows / np.maximum(split_rows.sum(axis=2, keepdims=True), 1)
    score = 0.5 * np.abs(distribution - overall).sum(axis=(1, 2))
    score[(split_rows == 0).any(axis=(1, 2))] = np.inf
    return score, split_rows


def choose_assignment(group_label_rows: np.ndarray, sizes: dict[str, int], spec: SplitSpec,
                      classes: list[str], groups: list[str]) -> tuple[np.ndarray, dict]:
    """Split index (into SPLITS) per group, and how it was chosen (for the report).

    `group_label_rows[g, c]` is the number of rows of class c in group g. Groups named in
    split.*_groups are fixed; the others are searched (module docstring).
    """
    fixed = np.full(len(groups), -1, np.int8)
    for split, ids in spec.named:
        fixed[[[str(g) for g in groups].index(g) for g in ids]] = SPLITS.index(split)
    for split, ids in spec.named:
        missing = np.flatnonzero(group_label_rows[fixed == SPLITS.index(split)].sum(axis=0) == 0)
        if len(missing):
            holders = [g for g, n in zip(groups, group_label_rows[:, missing[0]]) if n]
            raise McuforgeError(f"class {classes[missing[0]]!r} has no rows in split {split!r} "
                                f"(split.{EXPLICIT[split]}={list(ids)}); add one of the groups that "
                                f"hold it, {holders[:10]}, to split.{EXPLICIT[split]}")
    free = np.flatnonzero(fixed < 0)
    free_sizes = [sizes[name] - int(np.sum(fixed == i)) for i, name in enumerate(SPLITS)]
    weights = group_label_rows.astype(np.float64)
    pool, exhaustive = candidates(len(free), free_sizes)
    full = np.repeat(fixed[np.newaxis], len(pool), axis=0)
    full[:, free] = pool
    scores, rows = zip(*(score_assignments(full[s:s + BATCH], weights)
                         for s in range(0, len(full), BATCH)))
    scores, rows = np.concatenate(scores), np.concatenate(rows)
    if not np.isfinite(scores).any():
        raise McuforgeError(missing_class_message(rows, full, spec, classes, groups, group_label_rows))
    best = float(scores.min())
    near = np.flatnonzero(scores <= best + spec.tolerance + 1e-12)
    # rank by score, then by the assignment itself: the same pool order on every machine
    near = sorted(near, key=lambda i: (round(float(scores[i]), 12), full[i].tobytes()))
    chosen = near[spec.seed % len(near)]
    how = {"method": ("named groups, the rest searched" if spec.named else "search"),
           "named_groups": {EXPLICIT[split]: list(ids) for split, ids in spec.named},
           "candidates_evaluated": int(len(full)),
           "exhaustive": exhaustive,
           "tolerance": spec.tolerance, "best_score": round(best, 6),
           "near_optimal": len(near), "rank": spec.seed % len(near),
           "score": round(float(scores[chosen]), 6)}
    return full[chosen], how


def missing_class_message(rows, full, spec, classes, groups, group_label_rows) -> str:
    """Why no candidate puts every class in every split, named on the closest candidate."""
    closest = int(np.argmin((rows == 0).sum(axis=(1, 2))))
    split_index, class_index = np.argwhere(rows[closest] == 0)[0]
    holders = [g for g, n in zip(groups, group_label_rows[:, class_index]) if n]
    named = ", ".join(f"split.{EXPLICIT[s]}={list(ids)}" for s, ids in spec.named)
    fix = ("name groups that hold it in split." + EXPLICIT[SPLITS[split_index]]
           if SPLITS[split_index] in EXPLICIT and named else
           "try split.group_by=recording, other split fractions, or more data for that class")
    return (f"no grouping puts every class in every split: in the closest of {len(full)} "
            f"assignments of {len(groups)} groups{' with ' + named if named else ''}, class "
            f"{classes[class_index]!r} is missing from split {SPLITS[split_index]!r} (the class "
            f"occurs only in {len(holders)} group(s): {holders[:10]}); {fix}")


def split_sizes(groups: list[str], spec: SplitSpec) -> dict[str, int]:
    """Groups per split: named lists fix their split's size, train takes what is left."""
    sizes = groups_per_split(len(groups), spec.fractions)
    known = {str(g) for g in groups}
    for split, ids in spec.named:
        unknown = [g for g in ids if g not in known]
        if unknown:
            raise McuforgeError(f"params.yaml: split.{EXPLICIT[split]} names {unknown}, which are "
                                f"not {spec.group_by} ids of data/ingested.parquet; known: "
                                f"{groups[:20]}{' ...' if len(groups) > 20 else ''}")
        sizes[split] = len(ids)
    sizes["train"] = len(groups) - sizes["val"] - sizes["test"]
    if sizes["train"] < 1:
        raise McuforgeError(f"split.val_groups/split.test_groups leave no {spec.group_by} for "
                            f"train ({len(groups)} groups, val {sizes['val']}, test "
                            f"{sizes['test']}); name fewer groups")
    return sizes


def split_table(table: pd.DataFrame, spec: SplitSpec) -> tuple[pd.DataFrame, dict]:
    """The table plus a `split` column (same row order), and the split report."""
    channels_of(table)  # a canonical table from stages.ingest
    classes = check_classes(table, spec.labels)
    groups = sorted(table[spec.group_by].unique())
    sizes = split_sizes(groups, spec)
    group_label_rows = (pd.crosstab(table[spec.group_by], table["label"])
                        .reindex(index=groups, columns=classes, fill_value=0).to_numpy())
    assignment, how = choose_assignment(group_label_rows, sizes, spec, classes, groups)
    split_of_group = {g: SPLITS[i] for g, i in zip(groups, assignment)}
    result = table.assign(split=table[spec.group_by].map(split_of_group).astype(str))
    return result, {**split_report(result, spec, classes), "chosen": how}


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
