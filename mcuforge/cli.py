"""The `mcuforge` command: one front door to what users run by hand around `dvc repro`.

    mcuforge --help            every subcommand;  mcuforge <command> --help   its options

The DVC stages themselves stay `python -m stages.<name>` (dvc.yaml runs them). Run from the
project root. Bad input is one line `error: ...` naming the fix, exit 2 (Hydra's own override
errors keep Hydra's message and exit 1); `doctor` exits 1 when the default `dvc repro` cannot run.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import click

from mcuforge.errors import McuforgeError, stage_main

PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mcuforge")
def cli() -> None:
    """mcuforge: sensor recordings -> int8 model -> C -> firmware, one `dvc repro`.

    Run `dvc repro` for the chain itself; these commands compose configs, sweep and compare
    experiments, render plots, run benchmarks and check the machine.
    """


@cli.command()
@click.argument("overrides", nargs=-1)
@stage_main
def compose(overrides: tuple[str, ...]) -> None:
    """Compose params.yaml from conf/ with Hydra OVERRIDES (what plain `dvc repro` reads).

    Example: mcuforge compose board=qemu_cortex_m3 features=spectral prune.keep=0.3
    """
    from mcuforge.experiments.compose import compose as compose_params

    compose_params("params.yaml", list(overrides))
    click.echo("params.yaml composed from conf/" + (f" with {' '.join(overrides)}" if overrides else ""))


@cli.command(context_settings=PASS_THROUGH, add_help_option=False)
@click.option("--launcher", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: Hydra's launcher runs `dvc exp run --temp` here; ray: each job on a Ray cluster")
@click.option("--address", default=None, metavar="HOST:PORT",
              help="with --launcher ray: the Ray head (`ray start --head` prints it); settings in conf/sweep/ray.yaml")
@click.argument("hydra_args", nargs=-1, type=click.UNPROCESSED)
@stage_main
def sweep(launcher: str, address: str | None, hydra_args: tuple[str, ...]) -> None:
    """A Hydra (multi)run over conf/, each job one DVC experiment (other args go to Hydra).

    Example: mcuforge sweep --multirun 'prune.keep=0.3,0.5' hydra/launcher=joblib
    hydra.launcher.n_jobs=2. On Ray: mcuforge sweep --launcher ray --address 10.0.0.1:6379
    --multirun 'prune.keep=0.3,0.5'. Ends with a table; exit 2 if any experiment failed.
    """
    from mcuforge.experiments.sweep import run_sweep

    if set(hydra_args) & {"-h", "--help"}:
        click.echo(click.get_current_context().get_help())
        return
    run_sweep(list(hydra_args), launcher, address)


@cli.command()
@click.option("--board", required=True, help="a config in conf/board/, e.g. nrf52840dk")
@click.option("--max-latency-ms", type=float, default=None,
              help="also require latency (instructions / clock) <= this, where known")
@click.option("--all-commits", is_flag=True, help="experiments of every commit, not only HEAD")
@click.option("--apply", "apply_pick", is_flag=True, help="`dvc exp apply` the pick")
@stage_main
def best(board: str, max_latency_ms: float | None, all_commits: bool, apply_pick: bool) -> None:
    """The most accurate experiment that fits BOARD's flash/RAM budget (exit 2 if none fits)."""
    from mcuforge.experiments.best import pick_best

    pick_best(board, max_latency_ms, all_commits, apply_pick)


@cli.command()
@click.option("--board", required=True, help="a config in conf/board/: its budget bounds the search")
@click.option("--trials", type=click.IntRange(min=0), default=None,
              help="finished trials the study should have (a rerun runs only the missing ones; 0: the report)")
@click.option("--space", default="default", show_default=True, help="conf/tune/<space>.yaml")
@click.option("--study", default=None, help="study name (default: the board); experiments tune-<study>-<n>")
@click.option("--launcher", default="local", show_default=True, type=click.Choice(["local", "ray"]))
@click.option("--address", default=None, help="--launcher ray: the Ray head, e.g. 127.0.0.1:6379")
@click.option("--apply", "apply_trial", default=None, metavar="TRIAL",
              help="`dvc exp apply` a trial: its number, its experiment, or `best`")
@stage_main
def tune(board: str, trials: int | None, space: str, study: str | None, launcher: str, address: str | None,
         apply_trial: str | None) -> None:
    """Search conf/tune/SPACE for the Pareto front under BOARD's budget (Optuna; each trial a DVC experiment)."""
    from mcuforge.experiments.tune import tune as run_tune

    run_tune(board, trials, space, study, launcher, apply_trial, address=address)


@cli.command()
@click.argument("revs", nargs=-1, metavar="[REV]...")
@click.option("--out", default="dvc_plots", show_default=True, type=click.Path(path_type=Path),
              help="output folder")
@click.option("--format", "fmt", default="png", show_default=True, type=click.Choice(["png", "svg"]))
@click.option("--plot", "plot_ids", multiple=True, metavar="ID", help="only this plot id (repeatable)")
@click.option("--experiments", is_flag=True, help="overlay HEAD and its experiments")
@click.option("--scale", type=float, default=2.0, show_default=True, help="PNG pixels per CSS pixel")
@stage_main
def plots(revs: tuple[str, ...], out: Path, fmt: str, plot_ids: tuple[str, ...], experiments: bool,
          scale: float) -> None:
    """Render the plots dvc.yaml declares to PNG/SVG offline (REVs overlay revisions)."""
    from mcuforge.experiments.plots import plot_files

    for path in plot_files(list(revs), out, fmt, list(plot_ids), experiments, scale):
        click.echo(str(path))


@cli.group()
def bench() -> None:
    """Benchmark drivers (benchmarks/*.py); each writes reports/bench_<name>.json."""


def _run_benchmark(name: str, args: tuple[str, ...]) -> None:
    script = Path.cwd() / "benchmarks" / f"{name}.py"
    if not script.is_file():
        raise McuforgeError(f"{script} not found: run `mcuforge bench {name}` from the project root")
    spec = importlib.util.spec_from_file_location(f"mcuforge_bench_{name}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(list(args), prog=f"mcuforge bench {name}")


# benchmarks/<name>.py -> its one-line description; each driver parses its own options
BENCHMARKS = {
    "codegen": "Native codegen vs TFLite Micro on Cortex-M3/M4 under QEMU (--help: its options).",
    "targets": "The model on every board's core under QEMU: exactness, sizes, instructions (--help: its options).",
    "crossval": "Subject-grouped k-fold cross-validation of the chain through int8 (--help: its options).",
    "scaleout": "The same 8-job sweep on a 1- and a 2-worker local Ray cluster (--help: its options).",
    "kws": "Keyword spotting: speaker-held-out folds, MLP baseline, QEMU firmware, streaming (--help).",
}


def _bench_command(name: str, description: str) -> None:
    @bench.command(name, context_settings=PASS_THROUGH, add_help_option=False, help=description)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @stage_main
    def run(args: tuple[str, ...]) -> None:
        _run_benchmark(name, args)


for _name, _description in BENCHMARKS.items():
    _bench_command(_name, _description)


@cli.command("docs-tables")
@click.option("--check", is_flag=True, help="change nothing; exit 2 naming every table that disagrees")
@stage_main
def docs_tables(check: bool) -> None:
    """Write the measured tables of README.md and docs/ from the committed reports (between markers)."""
    from mcuforge.experiments.docs_tables import update

    changed = update(Path.cwd(), check=check)
    click.echo("\n".join(f"rewrote {name}" for name in changed) if changed else "docs tables match the reports")


@cli.command()
def doctor() -> None:
    """What is installed and what is missing, each with the command that fixes it.

    Exit 1 when the default `dvc repro` cannot run; the Zephyr lines are informative.
    """
    from mcuforge.doctor import chain_can_run, report_lines, run_checks

    checks = run_checks(Path.cwd())
    click.echo("\n".join(report_lines(checks)))
    if not chain_can_run(checks):
        sys.exit(1)


@cli.command()
@stage_main
def zephyr() -> None:
    """The Zephyr workspace found (west topdir / ZEPHYR_BASE), version, modules, toolchain."""
    from mcuforge.firmware.zephyr_workspace import describe, find_workspace

    click.echo("\n".join(describe(find_workspace(Path.cwd()))))


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="mcuforge")


if __name__ == "__main__":
    main()
