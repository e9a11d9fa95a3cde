"""benchmarks/crossval.py's pure parts: subject-grouped folds and the summary's pruning fields."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "crossval.py"
spec = importlib.util.spec_from_file_location("crossval_bench", SCRIPT)
crossval = importlib.util.module_from_spec(spec)
spec.loader.exec_module(crossval)


def test_folds_test_every_subject_once_and_never_share_a_subject_between_splits():
    table = pd.DataFrame({"subject": [f"s{i:02d}" for i in range(10) for _ in range(3)], "split": "train"})
    folds = crossval.fold_tables(table, 5)
    tested = [s for f in folds for s in sorted(f.loc[f["split"] == "test", "subject"].unique())]
    assert sorted(tested) == sorted(table["subject"].unique())
    for k, fold in enumerate(folds):
        per_subject = fold.groupby("subject")["split"].nunique()
        assert (per_subject == 1).all()
        nxt = folds[(k + 1) % 5]
        assert set(fold.loc[fold["split"] == "val", "subject"]) == set(nxt.loc[nxt["split"] == "test", "subject"])


def test_val_every_validates_on_every_nth_take_of_all_other_subjects_so_one_more_subject_trains():
    rows = [(f"s{i}", label, f"{label}_s{i}_{take}") for i in range(6) for label in ("yes", "no")
            for take in range(10) for _ in range(2)]  # two samples per recording
    table = pd.DataFrame(rows, columns=["subject", "label", "recording"])
    fold = crossval.fold_tables(table, 6, [2], val_every=5)[0]
    assert set(fold.loc[fold["split"] == "test", "subject"]) == {"s2"}
    assert (fold.groupby("recording")["split"].nunique() == 1).all()  # a recording never straddles splits
    per_recording = fold.groupby("recording").first()
    others = per_recording[per_recording["subject"] != "s2"]
    assert set(others.loc[others["split"] == "train", "subject"]) == {"s0", "s1", "s3", "s4", "s5"}
    held = others[others["split"] == "val"].groupby(["subject", "label"]).size()
    assert len(held) == 10 and (held == 2).all()  # takes 0 and 5 of each speaker and word
    assert crossval.fold_tables(table, 6, [2])[0].equals(crossval.fold_tables(table, 6, [2], val_every=None)[0])


def test_train_groups_keeps_only_the_next_n_training_subjects_and_every_test_and_val_row():
    table = pd.DataFrame({"subject": [f"s{i}" for i in range(6) for _ in range(4)], "x": range(24)})
    whole = crossval.fold_tables(table, 6, [4])[0]
    fold = crossval.fold_tables(table, 6, [4], train_groups=2)[0]
    assert set(fold.loc[fold["split"] == "train", "subject"]) == {"s0", "s1"}  # after val s5, wrapping
    assert set(whole.loc[whole["split"] == "train", "subject"]) == {"s0", "s1", "s2", "s3"}
    for split in ("test", "val"):
        assert fold[fold["split"] == split].reset_index(drop=True).equals(
            whole[whole["split"] == split].reset_index(drop=True))
    assert crossval.fold_tables(table, 6, [4], train_groups=4)[0].equals(whole)
    for bad in ({"train_groups": 0}, {"train_groups": 5}, {"train_groups": 2, "val_every": 5}):
        with pytest.raises(ValueError, match="train_groups"):
            crossval.fold_tables(table, 6, [4], **bad)


def fold(acc: float, device: bool) -> dict:
    row = {f"{key}_accuracy": acc for key in ("teacher", "student", "student_no_teacher", "pruned", "int8",
                                              "unpruned_int8", "scratch_int8")}
    row["pruned_macs_ratio"] = 0.4
    if device:
        row.update(pruned_weights_ratio=0.3, pruned_instructions_ratio=0.6)
    return row


def test_summary_has_the_issue_fields_and_device_ratios_only_from_device_folds():
    summary = crossval.summarize([fold(0.8, True), fold(0.9, False)], ["prune.keep=0.4"])
    assert summary["pruned_int8_accuracy_mean"] == summary["int8_accuracy_mean"] == pytest.approx(0.85)
    assert summary["unpruned_int8_accuracy_mean"] == pytest.approx(0.85)
    assert summary["pruned_weights_ratio"] == 0.3 and summary["pruned_instructions_ratio"] == 0.6
    assert summary["device_folds"] == 1 and summary["folds"] == 2
    assert crossval.summarize([fold(0.8, False)], [])["pruned_weights_ratio"] is None


def test_merge_keeps_one_row_per_test_group_and_refuses_other_overrides(tmp_path):
    """--merge: reports of --run-folds runs become one summary; a fold in two reports counts once
    (the later report's row); a report of another config is refused, naming it."""
    import json
    rows = [dict(fold(acc, device), test_subjects=[subject]) for acc, device, subject in
            ((0.8, True, "s01"), (0.9, False, "s02"), (0.7, False, "s02"))]
    paths = []
    for name, part in (("a", rows[:2]), ("b", rows[2:])):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(crossval.summarize(part, [])))
    summary = crossval.merged(paths, [])
    assert summary["folds"] == 2 and [r["test_subjects"] for r in summary["per_fold"]] == [["s01"], ["s02"]]
    assert summary["int8_accuracy_mean"] == pytest.approx(0.75) and summary["device_folds"] == 1
    with pytest.raises(SystemExit, match="a.json: overrides"):
        crossval.merged(paths, ["prune.keep=0.3"])


def test_stage_stamp_follows_the_stage_params_and_deps_only(tmp_path):
    """--reuse skips a stage only when its stamp is unchanged: another prune param or other
    features change prune's stamp; a quantize param does not."""
    import yaml

    root = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((root / "params.yaml").read_text())
    (tmp_path / "data/features").mkdir(parents=True)
    (tmp_path / "data/features/train.npz").write_bytes(b"a")

    def stamp_with(section: str, key: str, value, features: bytes = b"a") -> str:
        changed = {**params, section: {**params[section], key: value}}
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed))
        (tmp_path / "data/features/train.npz").write_bytes(features)
        return crossval.stamp(tmp_path, "prune")

    base = stamp_with("prune", "keep", params["prune"]["keep"])
    assert stamp_with("quantize", "qat_epochs", 99) == base
    assert stamp_with("prune", "keep", 0.123) != base
    assert stamp_with("prune", "keep", params["prune"]["keep"], features=b"b") != base
