"""bench kws --merge: one summary from the per_fold rows of --run-folds reports; the MLP baseline's
overrides (benchmarks/kws.py)."""
import json

import pytest

from benchmarks.kws import baseline_overrides, merged


def row(speaker, int8, keyword, base):
    return {"test_subjects": [speaker], "int8_accuracy": int8, "keyword_accuracy": keyword,
            "baseline_accuracy": base, "teacher_accuracy": 0.9, "val_int8_accuracy": int8 + 0.05}


def test_merge_orders_folds_by_speaker_and_recomputes_the_statistics(tmp_path):
    (tmp_path / "fold0/reports").mkdir(parents=True)
    (tmp_path / "fold0/reports/features.json").write_text(json.dumps({"class_mix": {"test": {}}}))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"per_fold": [row("lucas", 0.9, 0.8, 0.7)],
                             "streaming": {"detection_rate": 0.9}}))
    b.write_text(json.dumps({"per_fold": [{**row("george", 0.7, 0.6, 0.5), "train_subjects": ["nicolas", "theo"]},
                                          {**row("jackson", 0.8, 0.7, 0.6), "train_subjects": ["lucas", "theo"]}]}))
    out = merged([a, b], ["dataset=fsdd"], tmp_path / "base")
    assert out["train_speakers"] == [2]   # the lucas row (no list) does not count
    assert out["folds"] == 3 and list(out["per_speaker"]) == ["george", "jackson", "lucas"]
    assert out["int8_accuracy_mean"] == pytest.approx(0.8) and out["int8_accuracy_std"] == pytest.approx(0.0816, abs=1e-4)
    assert out["keyword_accuracy_mean"] == pytest.approx(0.7) and out["baseline_accuracy_mean"] == pytest.approx(0.6)
    assert out["val_int8_accuracy_mean"] == pytest.approx(0.85)
    assert out["streaming"] == {"detection_rate": 0.9} and out["class_mix"] == {"test": {}}
    # every fold leads its baseline by 20 points: no spread, the interval is the point
    assert out["margin_points"] == {"per_speaker": {"george": 20.0, "jackson": 20.0, "lucas": 20.0},
                                    "mean": 20.0, "std": 0.0, "ci95": [20.0, 20.0]}


def test_the_margin_interval_is_students_t_over_the_folds():
    from benchmarks.kws import paired_margin
    rows = [row("george", 0.8, 0, 0.7), row("jackson", 0.9, 0, 0.7), row("lucas", 0.9, 0, 0.6)]
    # margins 10, 20, 30: mean 20, std 10, t(0.975, 2 df) = 4.303 (tables), 4.303 * 10 / sqrt(3) = 24.84
    assert paired_margin(rows) == {"per_speaker": {"george": 10.0, "jackson": 20.0, "lucas": 30.0},
                                   "mean": 20.0, "std": 10.0, "ci95": [-4.84, 44.84]}
    assert paired_margin(rows[:1]) == {"per_speaker": {"george": 10.0}, "mean": 10.0}  # one fold: no interval


def test_a_run_without_fold_0_takes_the_class_mix_of_its_first_fold(tmp_path):
    for k, mix in ((3, "third"), (12, "twelfth")):
        (tmp_path / f"fold{k}/reports").mkdir(parents=True)
        (tmp_path / f"fold{k}/reports/features.json").write_text(json.dumps({"class_mix": mix}))
    (tmp_path / "fold1-unpruned/reports").mkdir(parents=True)  # not a fold: ignored
    (tmp_path / "fold1-unpruned/reports/features.json").write_text(json.dumps({"class_mix": "unpruned"}))
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"per_fold": [row("nicolas", 0.9, 0.8, 0.7)]}))
    assert merged([a], ["dataset=fsdd"], tmp_path / "base")["class_mix"] == "third"


@pytest.mark.parametrize("work", [None, "empty"])
def test_a_merge_without_the_runs_work_folder_is_refused_and_writes_nothing(tmp_path, capsys, work):
    from benchmarks.kws import main
    a, out = tmp_path / "a.json", tmp_path / "out.json"
    a.write_text(json.dumps({"per_fold": [row("nicolas", 0.9, 0.8, 0.7)]}))
    extra = [] if work is None else ["--work", str(tmp_path / work)]
    with pytest.raises(SystemExit) as exit_info:
        main(["--merge", str(a), "--out", str(out), *extra])
    assert exit_info.value.code == 2 and not out.exists()
    assert "pass the --work the" in capsys.readouterr().err


def test_the_baseline_mlp_drops_the_ds_cnn_model_overrides_and_composes(tmp_path):
    import yaml

    from benchmarks.kws import DEFAULTS, ROOT
    from mcuforge.experiments.compose import compose
    overrides = [*DEFAULTS, "model.student.blocks=[48,48,48,48,48]", "distill.max_param_ratio=0.65",
                 "augment.copies=3"]
    with pytest.raises(Exception, match="model.student.blocks"):   # model=dense has no blocks
        compose(tmp_path / "as_given.yaml", [*overrides, "model=dense"], ROOT / "conf")
    mlp = baseline_overrides([*overrides, "+model.student.extra=1"])
    assert mlp == [*DEFAULTS, "distill.max_param_ratio=0.65", "augment.copies=3", "model=dense"]
    compose(tmp_path / "mlp.yaml", mlp, ROOT / "conf")
    params = yaml.safe_load((tmp_path / "mlp.yaml").read_text())
    assert params["model"]["teacher"]["arch"] == "dense" and params["augment"]["copies"] == 3


@pytest.mark.parametrize("args", [["--train-speakers", "5"], ["--train-speakers", "0"],
                                  ["--train-speakers", "2", "--val-every", "5"]])
def test_train_speakers_outside_the_training_speakers_is_refused_before_any_work(tmp_path, capsys, args):
    from benchmarks.kws import main
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--work", str(tmp_path / "work"), "--out", str(out)])
    assert exit_info.value.code == 2 and not out.exists() and not (tmp_path / "work").exists()
    assert "--train-speakers" in capsys.readouterr().err
