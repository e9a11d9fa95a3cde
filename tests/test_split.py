"""Split: grouped (no group in two splits), every class in every split, deterministic, clear errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mcuforge.errors import McuforgeError
from mcuforge.data.ingest.table import write_parquet
from mcuforge.data.split import SPLITS, groups_per_split, split_spec, split_table

PROJECT = Path(__file__).resolve().parents[1]
LABELS = ["idle", "walk", "run"]


def canonical_table(n_subjects=10, recordings_per_subject=3, rows=12, seed=1) -> pd.DataFrame:
    """Subjects s01..; each recording has one label, cycling so every subject has every label."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(1, n_subjects + 1):
        for r in range(recordings_per_subject):
            n = rows + int(rng.integers(0, 8))
            frames.append(pd.DataFrame({
                "recording": f"s{s:02d}/r{r}", "subject": f"s{s:02d}",
                "time_s": np.arange(n) / 50.0,
                "acc_x": rng.normal(size=n).astype(np.float32),
                "label": LABELS[(s + r) % len(LABELS)]}))
    return pd.concat(frames, ignore_index=True)


def params(labels=LABELS, **overrides) -> dict:
    return {"split": {"train": 0.7, "val": 0.15, "test": 0.15, "group_by": "subject", "seed": 0,
                      "tolerance": 0.01, "test_groups": None, "val_groups": None, **overrides},
            "dataset": {"labels": list(labels)}}


@pytest.mark.parametrize("group_by", ["subject", "recording"])
def test_groups_never_straddle_splits_and_every_class_is_everywhere(group_by):
    table = canonical_table()
    result, report = split_table(table, split_spec(params(group_by=group_by)))

    assert result.drop(columns="split").equals(table)          # same table, same row order
    assert set(result["split"]) == set(SPLITS)
    assert (result.groupby(group_by)["split"].nunique() == 1).all()
    assert report["group_overlap"] == 0
    for name in SPLITS:
        part = result[result["split"] == name]
        assert set(part["label"]) == set(LABELS)
        assert report["class_counts"][name] == part["label"].value_counts().to_dict()
        assert report["counts"][name]["rows"] == len(part)
        assert sorted(report["groups"][name]) == sorted(part[group_by].unique())
    assert sum(len(g) for g in report["groups"].values()) == table[group_by].nunique()


def test_ten_subjects_get_7_1_2_groups():
    result, report = split_table(canonical_table(), split_spec(params()))
    assert {name: report["counts"][name]["groups"] for name in SPLITS} == {"train": 7, "val": 1, "test": 2}


@pytest.mark.parametrize("n_groups, fractions, expected", [
    (10, (0.7, 0.15, 0.15), (7, 1, 2)),     # tie between val and test goes to test
    (3, (0.8, 0.1, 0.1), (1, 1, 1)),        # every split gets at least one group
    (5, (0.9, 0.05, 0.05), (3, 1, 1)),
    (140, (0.7, 0.15, 0.15), (98, 21, 21)),
    (7, (0.5, 0.25, 0.25), (3, 2, 2)),
])
def test_groups_per_split_rounding(n_groups, fractions, expected):
    counts = groups_per_split(n_groups, dict(zip(SPLITS, fractions)))
    assert tuple(counts[name] for name in SPLITS) == expected


def test_stratification_prefers_balanced_splits():
    """Subjects s01-s03 are mostly 'run'. Label-blind valid 8/2/2 assignments of these 12 subjects
    leave some split >= 0.078 (total variation) away from the overall label mix (min of 270 random
    ones); the chosen assignment must do better than that."""
    table = canonical_table(n_subjects=12)
    heavy = table["subject"].isin(["s01", "s02", "s03"])
    table.loc[heavy, "label"] = np.where(table.loc[heavy, "time_s"] < 0.05, "idle", "run")
    result, report = split_table(table, split_spec(params()))
    overall = result["label"].value_counts(normalize=True)
    for name in SPLITS:
        share = result.loc[result["split"] == name, "label"].value_counts(normalize=True)
        distance = 0.5 * (share - overall).abs().sum()
        assert distance < 0.075
        assert report["label_distance"][name] == pytest.approx(distance, abs=1e-6)


def test_split_is_deterministic_and_seed_matters():
    table = canonical_table(n_subjects=20)
    first, report = split_table(table, split_spec(params()))
    again, report_again = split_table(table, split_spec(params()))
    assert first.equals(again) and report == report_again
    other_seeds = [split_table(table, split_spec(params(seed=s)))[1]["groups"] for s in range(1, 6)]
    assert any(groups != report["groups"] for groups in other_seeds)


def test_seeds_pick_different_near_optimal_splits_of_the_watch_data():
    """The default data: 10 subjects, 7/1/2. Seed 0 keeps the best split; seeds 1 and 2 take the
    next near-optimal ones, whose test subjects differ; each within split.tolerance of the best."""
    from mcuforge.data.ingest import dataset_spec, read_dataset

    project_params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    table, _ = read_dataset(dataset_spec(project_params))
    tests, reports = [], []
    for seed in (0, 1, 2):
        result, report = split_table(table, split_spec({**project_params, "split": {
            **project_params["split"], "seed": seed}}))
        tests.append(tuple(report["groups"]["test"]))
        reports.append(report)
        for name in SPLITS:
            assert set(result.loc[result["split"] == name, "label"]) == set(project_params["dataset"]["labels"])
    assert len(set(tests)) == 3, tests
    assert [r["chosen"]["rank"] for r in reports] == [0, 1, 2]
    best = reports[0]["chosen"]["best_score"]
    assert reports[0]["chosen"]["score"] == best
    assert all(best <= r["chosen"]["score"] <= best + 0.01 for r in reports)
    assert reports[0]["chosen"]["exhaustive"] and reports[0]["chosen"]["candidates_evaluated"] == 360


def test_zero_tolerance_leaves_only_the_best():
    table = canonical_table(n_subjects=20)
    reports = [split_table(table, split_spec(params(seed=s, tolerance=0)))[1] for s in range(3)]
    assert all(r["groups"] == reports[0]["groups"] for r in reports)
    assert reports[0]["chosen"]["near_optimal"] >= 1
    assert reports[0]["chosen"]["score"] == reports[0]["chosen"]["best_score"]


def test_named_test_and_val_groups_are_used_as_given():
    table = canonical_table()
    result, report = split_table(table, split_spec(params(test_groups=["s03", "s07", "s08"],
                                                          val_groups=["s01"])))
    assert report["groups"]["test"] == ["s03", "s07", "s08"] and report["groups"]["val"] == ["s01"]
    assert len(report["groups"]["train"]) == 6
    assert report["chosen"]["named_groups"] == {"val_groups": ["s01"], "test_groups": ["s03", "s07", "s08"]}
    assert set(result.loc[result["subject"] == "s07", "split"]) == {"test"}

    _, report = split_table(table, split_spec(params(test_groups=["s03", "s04"])))  # val searched
    assert report["groups"]["test"] == ["s03", "s04"] and len(report["groups"]["val"]) == 1
    assert report["groups"]["val"][0] not in ("s03", "s04")
    assert report["chosen"]["method"] == "named groups, the rest searched"


@pytest.mark.parametrize("overrides, expected", [
    ({"test_groups": ["s02", "s99"]}, ["split.test_groups", "['s99']", "known", "s01"]),
    ({"test_groups": ["s02"], "val_groups": ["s02", "s03"]}, ["['s02']", "both"]),
    ({"val_groups": ["s02", "s02"]}, ["split.val_groups", "more than once"]),
    ({"val_groups": "s02"}, ["split.val_groups", "list"]),
    ({"test_groups": [f"s{i:02d}" for i in range(1, 6)], "val_groups": [f"s{i:02d}" for i in range(6, 11)]},
     ["no subject for train"]),
    ({"tolerance": -0.1}, ["split.tolerance"]),
])
def test_bad_named_groups_are_errors(overrides, expected):
    with pytest.raises(McuforgeError) as err:
        split_table(canonical_table(), split_spec(params(**overrides)))
    for fragment in expected:
        assert fragment in str(err.value)


def test_named_groups_missing_a_class_name_class_split_and_fix():
    table = canonical_table()
    table.loc[table["label"] == "run", "label"] = "idle"
    table.loc[table["subject"].isin(["s04", "s05"]), "label"] = "run"   # 'run' only in s04, s05
    with pytest.raises(McuforgeError) as err:
        split_table(table, split_spec(params(test_groups=["s01", "s02"])))
    message = str(err.value)
    assert "'run'" in message and "'test'" in message and "split.test_groups" in message
    assert "['s04', 's05']" in message


def test_impossible_stratification_names_class_split_and_fix():
    table = canonical_table()
    table["label"] = "idle"
    table.loc[table["subject"] == "s04", "label"] = "run"     # 'run' lives in one subject only
    with pytest.raises(McuforgeError) as err:
        split_table(table, split_spec(params(labels=["idle", "run"])))
    message = str(err.value)
    assert "'run'" in message and "split.group_by=recording" in message and "s04" in message
    assert any(f"'{name}'" in message for name in SPLITS)


@pytest.mark.parametrize("overrides, expected", [
    ({"train": 0.7, "val": 0.2, "test": 0.2}, ["sum to 1", "split.train=0.7", "split.val=0.2",
                                               "split.test=0.2"]),
    ({"train": 1.2, "val": -0.1, "test": -0.1}, ["positive", "split.val=-0.1"]),
    ({"test": 0.0, "train": 0.85}, ["positive", "split.test=0.0"]),
    ({"val": "0.15"}, ["numbers", "split.val='0.15'"]),
    ({"group_by": "session"}, ["split.group_by='session'", "subject", "recording"]),
    ({"seed": -1}, ["split.seed"]),
])
def test_bad_split_params_are_errors(overrides, expected):
    with pytest.raises(McuforgeError) as err:
        split_spec(params(**overrides))
    for fragment in expected:
        assert fragment in str(err.value)


def test_classes_come_from_dataset_labels():
    table = canonical_table()
    with pytest.raises(McuforgeError, match="class 'jump' .* has no rows"):
        split_table(table, split_spec(params(labels=[*LABELS, "jump"])))
    with pytest.raises(McuforgeError, match=r"labels \['walk'\] .* not in dataset.labels"):
        split_table(table, split_spec(params(labels=["idle", "run"])))


def test_fewer_groups_than_splits_is_an_error():
    with pytest.raises(McuforgeError, match="only 2 group"):
        split_table(canonical_table(n_subjects=2), split_spec(params()))


# ---- the stage as a subprocess ------------------------------------------------------------

def run_stage(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", "stages.split"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def project_dir(tmp_path: Path, **overrides) -> Path:
    (tmp_path / "data").mkdir()
    write_parquet(canonical_table(), tmp_path / "data" / "ingested.parquet")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params(**overrides)))
    return tmp_path


def test_stage_writes_byte_identical_outputs(tmp_path):
    project = project_dir(tmp_path)
    assert run_stage(project).returncode == 0
    table, report = project / "data" / "split.parquet", project / "reports" / "split.json"
    first = table.read_bytes(), report.read_bytes()
    assert run_stage(project).returncode == 0
    assert (table.read_bytes(), report.read_bytes()) == first
    written = pd.read_parquet(table)
    assert list(written.columns)[-1] == "split"
    assert json.loads(first[1])["group_overlap"] == 0


def test_stage_bad_fractions_exit_2_and_write_nothing(tmp_path):
    project = project_dir(tmp_path, val=0.3)
    result = run_stage(project)
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert "split.val=0.3" in result.stderr
    assert sorted(p.name for p in (project / "data").iterdir()) == ["ingested.parquet"]
    assert not (project / "reports").exists()


def test_stage_without_ingested_table_says_what_to_run(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params()))
    result = run_stage(tmp_path)
    assert result.returncode == 2 and "python -m stages.ingest" in result.stderr
