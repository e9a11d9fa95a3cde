"""The tuner's report on a real (in-memory) Optuna study: the Pareto front over accuracy, flash,
RAM + stack and latency among feasible trials; infeasible trials never on it, with their overflow;
failed trials listed with their log; the same trials give the same report."""
from __future__ import annotations

import json

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from mcuforge.experiments import tune_report

BOARD = {"cpu": "cortex-m4", "clock_hz": 64000000}


def result(accuracy, flash, ram, latency, flash_over=0, ram_over=0) -> dict:
    return {"accuracy": accuracy, "flash": flash, "ram": ram, "latency_ms": latency, "flash_over": flash_over,
            "ram_over": ram_over, "accuracy_source": "device" if accuracy is not None else ""}


TRIALS = [  # (student, result or None for a failed trial)
    ("a", result(0.85, 13756, 8228, 23.0)),       # most accurate
    ("b", result(0.80, 6060, 6828, 2.5)),         # smaller and faster: also on the front
    ("c", result(0.79, 6060, 6828, 2.4996)),      # dominated by b (latency compared at 0.01 ms)
    ("d", result(None, 9000, None, None, flash_over=4904)),   # over budget
    ("e", None),                                  # failed
]


def study_of(trials) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", directions=["maximize", "minimize", "minimize", "minimize"])
    study.set_user_attr("board", "nrf52840dk")
    study.set_user_attr("space", "conf/tune/x.yaml")
    for number, (student, res) in enumerate(trials):
        attrs = {"experiment": f"tune-s-{number}"}
        if res is None:
            attrs["status"] = "failed (exit 1), log .dvc/tmp/tune/s/logs/4.log"
        else:
            attrs["result"] = res
        values = None if res is None else [res["accuracy"] or 0.0, res["flash"], res["ram"] or 0,
                                           res["latency_ms"] if res["latency_ms"] is not None else float("inf")]
        study.add_trial(optuna.trial.create_trial(
            state=TrialState.FAIL if res is None else TrialState.COMPLETE, values=values,
            params={"student": student}, distributions={"student": CategoricalDistribution(list("abcdef"))},
            user_attrs=attrs))
    return study


def test_front_statuses_and_order():
    summary = tune_report.summarize(study_of(TRIALS))
    assert [(r["params"]["student"], r["status"]) for r in summary["rows"]] == [
        ("a", "front"), ("b", "front"), ("c", "dominated"), ("d", "infeasible"), ("e", "failed")]
    assert [r["trial"] for r in summary["front"]] == [0, 1]
    text = tune_report.text(summary, BOARD)
    assert "flash +4,904 B over budget" in text and "failed (exit 1), log .dvc/tmp/tune/s/logs/4.log" in text
    assert "5 trials: 2 front, 1 dominated, 1 infeasible, 1 failed" in text


def test_an_infeasible_trial_is_never_on_the_front_however_good():
    best_but_over = ("f", result(0.99, 100, 100, 0.1, ram_over=1))
    summary = tune_report.summarize(study_of([*TRIALS, best_but_over]))
    assert [r["params"]["student"] for r in summary["front"]] == ["a", "b"]
    assert summary["rows"][-2]["params"]["student"] == "f"
    assert "RAM +1 B over budget" in tune_report.text(summary, BOARD)


def test_an_interrupted_trial_is_left_out_and_the_report_is_reproducible():
    study = study_of(TRIALS)
    study.add_trial(optuna.trial.create_trial(state=TrialState.FAIL, params={"student": "a"},
                                              distributions={"student": CategoricalDistribution(list("abcdef"))}))
    summary = tune_report.summarize(study)
    assert len(summary["rows"]) == len(TRIALS)
    again = tune_report.summarize(study_of(TRIALS))
    assert json.dumps(summary, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert tune_report.text(summary, BOARD) == tune_report.text(again, BOARD)


def test_a_stepped_float_is_shown_as_passed_to_dvc():
    """Optuna's float grid gives 0.4 + 0.2 = 0.6000000000000001; the override and the report say 0.6."""
    from mcuforge.experiments.tune_space import Param

    study = optuna.create_study()
    study.enqueue_trial({"p": 0.4 + 0.2})
    trial = study.ask()
    assert Param("p", low=0.4, high=0.8, step=0.2).suggest(trial) == ["p=0.6"]
    assert trial.params["p"] == 0.6000000000000001
    assert tune_report.shown({"p": 0.4 + 0.2, "n": 3}) == {"n": 3, "p": 0.6}
