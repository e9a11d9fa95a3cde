"""A resumed study does not replay the first session's proposals: the sampler is seeded by the space's
seed + the trials already in the study (Optuna only, no DVC: the journal of `mcuforge tune`)."""
from __future__ import annotations

from mcuforge.experiments.tune import open_study
from mcuforge.experiments.tune_space import load_space


def session(folder, space, trials: int) -> list[dict]:
    folder.mkdir(exist_ok=True)
    study = open_study(folder, "s", "nrf52840dk", space, "conf/tune/default.yaml")
    proposed = []
    for _ in range(trials):
        trial = study.ask()
        space.suggest(trial)
        proposed.append(trial.params)
        study.tell(trial, [0.5, 10000, 5000, 1.0])
    return proposed


def test_a_resumed_study_proposes_new_configurations_reproducibly(tmp_path, project_root):
    space = load_space(project_root / "conf/tune/default.yaml", project_root / "conf")
    first, resumed = session(tmp_path / "a", space, 3), session(tmp_path / "a", space, 3)
    assert all(params not in first for params in resumed), (first, resumed)
    assert session(tmp_path / "b", space, 3) == first and session(tmp_path / "b", space, 3) == resumed
