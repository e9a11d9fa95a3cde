"""Best under budget on hand-computed examples; experiment names; reading `dvc exp show --json`."""
from __future__ import annotations

import subprocess

import pytest

from mcuforge.experiments import best, ranking
from mcuforge.experiments.runs import experiment_rows
from mcuforge.experiments.sweep import experiment_name

# Budget: flash 20,000 B, RAM 10,000 B, 10 MHz, latency <= 20 ms. Worked by hand:
#   name  accuracy  flash   RAM     instructions -> ms   verdict
#   A     0.90      25,000  8,000   100,000      10      flash over by 5,000
#   B     0.88      15,000  9,000   150,000      15      fits
#   C     0.88      12,000  9,500   300,000      30      latency over by 10 ms
#   D     0.85      12,000  6,000   unknown      -       fits (latency unknown is not excluded)
#   E     0.80      16,000  9,500   100,000      10      fits; dominated by B
#   F     0.86      19,000  12,000  100,000      10      RAM over by 2,000; dominated by B
# Pareto (accuracy up, flash down, RAM down): A, B, C, D. Ranking: fits by accuracy (B, D, E), then
# the rest by accuracy (A, C, F). Best: B. Without the latency limit C fits too and ties B on
# accuracy with less flash, so C is best.
CANDIDATES = [
    ranking.Candidate("A", 0.90, 25_000, 8_000, 100_000),
    ranking.Candidate("B", 0.88, 15_000, 9_000, 150_000),
    ranking.Candidate("C", 0.88, 12_000, 9_500, 300_000),
    ranking.Candidate("D", 0.85, 12_000, 6_000, None),
    ranking.Candidate("E", 0.80, 16_000, 9_500, 100_000),
    ranking.Candidate("F", 0.86, 19_000, 12_000, 100_000),
]
BUDGET = ranking.Budget(flash=20_000, ram=10_000, clock_hz=10_000_000, max_latency_ms=20.0)


def test_rank_matches_the_hand_computation():
    ranked = ranking.rank(CANDIDATES, BUDGET)
    assert [r.candidate.name for r in ranked] == ["B", "D", "E", "A", "C", "F"]
    by_name = {r.candidate.name: r for r in ranked}
    assert [n for n in "ABCDEF" if by_name[n].fits] == ["B", "D", "E"]
    assert (by_name["A"].flash_over, by_name["A"].ram_over, by_name["A"].latency_over_ms) == (5_000, 0, 0.0)
    assert by_name["C"].latency_over_ms == pytest.approx(10.0)
    assert (by_name["F"].flash_over, by_name["F"].ram_over) == (0, 2_000)
    assert by_name["B"].latency_ms == pytest.approx(15.0) and by_name["D"].latency_ms is None
    assert {n for n in "ABCDEF" if by_name[n].pareto} == {"A", "B", "C", "D"}
    assert ranking.best(ranked).candidate.name == "B"


def test_without_a_latency_limit_the_tie_goes_to_less_flash():
    ranked = ranking.rank(CANDIDATES, ranking.Budget(20_000, 10_000, 10_000_000))
    assert [r.candidate.name for r in ranked] == ["C", "B", "D", "E", "A", "F"]
    assert ranking.best(ranked).candidate.name == "C"


def test_nothing_fits_gives_no_best_and_identical_candidates_share_the_front():
    same = [ranking.Candidate("x", 0.5, 100, 100), ranking.Candidate("y", 0.5, 100, 100)]
    assert ranking.pareto_front(same) == {"x", "y"}
    assert ranking.best(ranking.rank(same, ranking.Budget(99, 1_000, 1))) is None


@pytest.mark.parametrize("overrides, name", [
    (["board=qemu_cortex_m3", "prune.sparsity=0.5"], "board=qemu_cortex_m3,prune.sparsity=0.5"),
    (["model.student.dense=[32,16]", "+board.note=a b"], "model.student.dense=_32,16_,+board.note=a_b"),
    (["~seed", "features.stride_ms=..5"], "_seed,features.stride_ms=.5"),
    ([], "defaults"),
])
def test_experiment_names_are_valid_git_refs(overrides, name):
    assert experiment_name(overrides) == name
    ref = subprocess.run(["git", "check-ref-format", f"refs/exps/{name}"], capture_output=True)
    assert ref.returncode == 0, name


def exp_show_entry(rev: str, name: str | None, board: str, cpu: str, accuracy: float, flash: int,
                   error: dict | None = None) -> dict:
    """One row shaped like `dvc exp show --json` (dvc 3.67) prints it."""
    metrics = {"reports/firmware.json": {"data": {
        "board": board, "cpu": cpu, "flash_bytes": flash, "ram_bytes": 7_816, "stack_bytes": 412,
        "qemu": {"device_accuracy": accuracy, "instructions_per_inference": 1_473_026.0}}},
        "reports/quantize.json": {"data": {"test_accuracy_int8": accuracy}}}
    params = {"params.yaml": {"data": {"board": {"name": board, "cpu": cpu}, "prune": {"sparsity": 0.6}}}}
    return {"rev": rev, "name": name, "error": error, "experiments": None,
            "data": {"rev": rev, "timestamp": None, "params": params, "metrics": metrics, "deps": {}, "outs": {},
                     "meta": {}}}


def test_exp_show_rows_drop_the_results_of_failed_and_queued_experiments():
    workspace = exp_show_entry("workspace", None, "nrf52840dk", "cortex-m4", 0.85, 13_756)
    baseline = exp_show_entry("a" * 40, "main", "nrf52840dk", "cortex-m4", 0.85, 13_756)
    baseline["experiments"] = [
        {"name": "m3", "executor": None, "revs": [exp_show_entry("b" * 40, "m3", "qemu_cortex_m3", "cortex-m3",
                                                                  0.80, 14_752)]},
        # a failed queued experiment: DVC shows the baseline's metrics beside the error
        {"name": "broken", "executor": {"state": "failed"},
         "revs": [exp_show_entry("c" * 40, "broken", "nrf52840dk", "cortex-m4", 0.85, 13_756,
                                 {"msg": "Experiment run failed", "type": ""})]},
        {"name": "waiting", "executor": {"state": "queued"},
         "revs": [exp_show_entry("d" * 40, "waiting", "nrf52840dk", "cortex-m4", 0.85, 13_756)]},
    ]
    rows = experiment_rows([workspace, baseline])
    assert [(r.name, r.kind, r.state) for r in rows] == [
        ("workspace", "workspace", "success"), ("main", "baseline", "success"), ("m3", "experiment", "success"),
        ("broken", "experiment", "failed"), ("waiting", "experiment", "queued")]
    m3 = rows[2]
    assert m3.metric("firmware", "qemu.device_accuracy") == 0.80 and m3.param("board.cpu") == "cortex-m3"
    assert rows[3].metrics == {} and rows[4].metrics == {}

    compared = best.comparable_rows(rows)
    assert [r.name for r in compared] == ["main", "m3", "broken", "waiting"]  # workspace == baseline
    verdicts = {r.name: best.entry(r, r.name, "cortex-m4") for r in compared}
    assert verdicts["m3"] == "built for cortex-m3, not cortex-m4"
    assert verdicts["broken"] == "failed, no results" and verdicts["waiting"] == "queued, no results"
    main = verdicts["main"]
    assert main.candidate == ranking.Candidate("main", 0.85, 13_756, 7_816 + 412, 1_473_026.0)
    assert (main.built_for, main.accuracy_source) == ("nrf52840dk", "device")
