"""`mcuforge tune`: a multi-objective search under a board's budget, every trial a named DVC experiment.

    mcuforge tune --board nrf52840dk --trials 12 [--space default] [--study NAME] [--apply TRIAL|best]

The space is conf/tune/<space>.yaml (mcuforge.experiments.tune_space). Optuna (NSGA-II or TPE)
proposes a trial; it runs as `dvc exp run --temp --name tune-<study>-<n> -S board=<board> -S ...`
(mcuforge.experiments.tune_trials). Objectives: device accuracy (QEMU; int8 on tflite_micro where
the core has no QEMU) up; flash, RAM + measured stack, latency (instructions / clock) down.
Constraints: flash and RAM + stack over the board's budget (board size - reserve, as the firmware
stage checks it); a trial over budget is infeasible (Optuna 5's Trial.set_constraint, which replaced
constraints_func: the samplers rank infeasible trials below feasible ones), not merely worse.

The study is an Optuna journal file in .dvc/tmp/tune/<study>/ with the trials' logs and the report
(front.md, front.json, front.png). --trials N = N finished trials in the study: a rerun after an
interrupt runs only what is missing. A trial left running by a killed tuner is recovered from its
experiment when DVC saved it, else marked failed and its parameters are tried again first. One tuner
per study at a time (a lock file; a second one fails fast). Exit 2 when no finished trial fits.
"""
from __future__ import annotations

import fcntl
import re
import signal
from contextlib import contextmanager
from pathlib import Path

from mcuforge import atomic
from mcuforge.errors import McuforgeError
from mcuforge.experiments import best, tune_report
from mcuforge.experiments.dvc_cli import run_dvc
from mcuforge.experiments.tune_space import Space, load_space
from mcuforge.experiments.tune_trials import Result, experiment_result, over_budget, run_local

STUDIES = Path(".dvc/tmp/tune")
DIRECTIONS = ["maximize", "minimize", "minimize", "minimize"]   # accuracy, flash, RAM + stack, latency ms
LAUNCHERS = ("local", "ray")


@contextmanager
def study_lock(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise McuforgeError(f"study {folder.name} is being run by another `mcuforge tune` ({folder}/lock); "
                                f"wait for it or choose another --study") from None
        yield


@contextmanager
def terminate_as_interrupt():
    """SIGTERM raises KeyboardInterrupt, so the running trial's process group is stopped on the way out."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sampler(space: Space, seed: int):
    import optuna

    if space.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=space.population_size, seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def open_study(folder: Path, name: str, board_name: str, space: Space, space_file: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.journal")))
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler(space, space.seed),
                                directions=DIRECTIONS, load_if_exists=True)
    # seeded by the space's seed + the trials already in the study: a resumed session would otherwise
    # replay the first session's random proposals (trial 4 = trial 0, ...); still deterministic
    study.sampler = sampler(space, space.seed + len(study.get_trials(deepcopy=False)))
    began = {"board": board_name, "space": space_file, "space_sha256": space.digest}
    if not study.user_attrs:
        for key, value in began.items():
            study.set_user_attr(key, value)
    for key, value in began.items():
        if study.user_attrs.get(key) != value:
            raise McuforgeError(f"study {name} began with {key} {study.user_attrs.get(key)}, not {value}: "
                                f"a study keeps its board and space; choose another --study")
    return study


def record(study, number: int, code: int, root: Path, board: dict, log: Path) -> str:
    """Tell Optuna what trial NUMBER measured (or that it failed); a one-line status."""
    import optuna
    from optuna.trial import TrialState

    name = f"tune-{study.study_name}-{number}"
    found = experiment_result(root, name, board) if code == 0 else None
    if not isinstance(found, Result):
        found = over_budget(log.read_text(encoding="utf-8", errors="replace")) if log.exists() else None
    trial = optuna.trial.Trial(study, study._storage.get_trial_id_from_study_id_trial_number(
        study._study_id, number))
    if found is None:
        status = f"failed (exit {code}), log {log.relative_to(root) if log.is_relative_to(root) else log}"
        trial.set_user_attr("status", status)
        study.tell(number, state=TrialState.FAIL)
        return status
    trial.set_constraint("flash_over_bytes", float(found.flash_over))   # > 0: infeasible (Optuna 5's
    trial.set_constraint("ram_over_bytes", float(found.ram_over))       # replacement of constraints_func)
    trial.set_user_attr("result", found.__dict__)
    values = [found.accuracy or 0.0, found.flash or 0, found.ram or 0,
              float("inf") if found.latency_ms is None else found.latency_ms]
    study.tell(number, values)
    if not found.feasible:
        return "infeasible: " + tune_report.overflow(found.__dict__)
    return f"accuracy {found.accuracy:.4f}, flash {found.flash:,} B, RAM+stack {found.ram:,} B, " \
           f"latency {found.latency_ms:.2f} ms"


def recover(study, root: Path, board: dict, folder: Path) -> None:
    """Trials left RUNNING by a killed tuner: recorded from their experiment, else failed and re-queued."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        name = f"tune-{study.study_name}-{trial.number}"
        log = folder / "logs" / f"{trial.number}.log"
        if isinstance(experiment_result(root, name, board), Result):
            print(f"trial {trial.number} ({name}) finished before the interrupt: "
                  f"{record(study, trial.number, 0, root, board, log)}")
            continue
        study.tell(trial.number, state=TrialState.FAIL)   # no "status": does not count toward --trials
        study.enqueue_trial(trial.params)
        print(f"trial {trial.number} ({name}) was interrupted: marked failed, its parameters run again")


def finished(study) -> int:
    """Trials that count toward --trials: complete, or failed other than by an interrupt."""
    from optuna.trial import TrialState

    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "status" in t.user_attrs))


def run_trials(study, space: Space, board: dict, trials: int, root: Path, folder: Path, runner) -> None:
    done = finished(study)
    print(f"study {study.study_name}: {done} trial(s) finished, {max(0, trials - done)} to run "
          f"(journal {folder / 'study.journal'})", flush=True)
    while finished(study) < trials:
        trial = study.ask()
        overrides = [f"board={board['name']}", *space.suggest(trial)]
        name = f"tune-{study.study_name}-{trial.number}"
        trial.set_user_attr("experiment", name)
        trial.set_user_attr("overrides", overrides)
        log = folder / "logs" / f"{trial.number}.log"
        params = " ".join(f"{k}={v}" for k, v in tune_report.shown(trial.params).items())
        print(f"[trial {trial.number}] {name}: {params}", flush=True)
        code = runner(root, name, overrides, log)
        print(f"[trial {trial.number}] {record(study, trial.number, code, root, board, log)}", flush=True)


def resolve_trial(study, which: str):
    fronts = tune_report.summarize(study)
    if which == "best":
        if not fronts["front"]:
            raise McuforgeError(f"--apply best: no feasible trial in study {study.study_name}")
        return fronts["front"][0]
    rows = [r for r in fronts["rows"] if str(r["trial"]) == which or r["experiment"] == which]
    if not rows or rows[0]["status"] != "front" and rows[0]["status"] != "dominated":
        raise McuforgeError(f"--apply {which}: no finished feasible trial {which} in study {study.study_name} "
                            f"(trial numbers and experiments in {STUDIES / study.study_name / 'front.md'})")
    return rows[0]


def tune(board_name: str, trials: int | None, space_name: str = "default", study_name: str | None = None,
         launcher: str = "local", apply_trial: str | None = None, root: Path | None = None,
         address: str | None = None) -> None:
    root = Path.cwd() if root is None else root
    if launcher not in LAUNCHERS:
        raise McuforgeError(f"--launcher {launcher}: choose one of {', '.join(LAUNCHERS)}")
    if trials is None and apply_trial is None:
        raise McuforgeError("give --trials N (trials to have finished in the study) and/or --apply TRIAL")
    board = best.load_board(board_name, root / best.BOARDS_DIR)
    space = load_space(root / "conf" / "tune" / f"{space_name}.yaml", root / "conf")
    study_name = study_name or board_name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", study_name):
        raise McuforgeError(f"--study {study_name!r}: use letters, digits, '_', '.', '-' (it names experiments)")
    runner = run_local
    if launcher == "ray":
        from mcuforge.experiments.tune_ray import ray_runner
        runner = ray_runner(address)
    folder = root / STUDIES / study_name
    with study_lock(folder), terminate_as_interrupt():
        study = open_study(folder, study_name, board_name, space, f"conf/tune/{space_name}.yaml")
        recover(study, root, board, folder)
        if trials:
            try:
                run_trials(study, space, board, trials, root, folder, runner)
            except KeyboardInterrupt:
                raise McuforgeError(f"interrupted: the running trial was stopped; finished trials are kept in "
                                    f"{folder / 'study.journal'}: rerun the same command to resume") from None
        summary = tune_report.summarize(study)
        text = tune_report.text(summary, board)
        print(text)
        atomic.write_text(folder / "front.md", text + "\n")
        atomic.write_json(folder / "front.json", summary)
        tune_report.plot(summary, folder / "front.png")
        print(f"report: {folder / 'front.md'}, {folder / 'front.json'}, {folder / 'front.png'}")
        if apply_trial is not None:
            chosen = resolve_trial(study, apply_trial)
            run_dvc(["exp", "apply", chosen["experiment"]], root)
            print(f"applied trial {chosen['trial']} ({chosen['experiment']}): its params.yaml, dvc.lock and "
                  f"outputs are in the workspace")
        elif not summary["front"]:
            raise McuforgeError(f"no finished trial of study {study_name} fits board {board_name}: see "
                                f"{folder / 'front.md'}; widen the space toward smaller models or run more trials")
