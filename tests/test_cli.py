"""The `mcuforge` command: every subcommand answers --help, errors are one line, doctor tells the truth."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ("compose", "sweep", "tune", "best", "plots", "bench", "doctor", "zephyr", "docs-tables")


def mcuforge(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcuforge.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_console_script_is_declared_and_installed():
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("mcuforge") == "mcuforge.cli:main"
    script = Path(sys.executable).parent / "mcuforge"
    assert script.is_file(), f"{script}: re-run `bash scripts/setup.sh` (pip install -e .)"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_help_lists_every_subcommand():
    out = mcuforge("--help")
    assert out.returncode == 0, out.stderr
    listed = out.stdout.split("Commands:")[1].split()
    for name in SUBCOMMANDS:
        assert name in listed, f"`mcuforge --help` does not list {name}"


@pytest.mark.parametrize("args", [["compose"], ["sweep"], ["tune"], ["best"], ["plots"], ["bench"], ["doctor"],
                                  ["zephyr"], ["docs-tables"], ["bench", "codegen"], ["bench", "crossval"],
                                  ["bench", "targets"], ["bench", "kws"]])
def test_every_subcommand_has_help(args):
    out = mcuforge(*args, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.lower().startswith(f"usage: mcuforge {' '.join(args)}"), out.stdout[:200]


def copy_conf(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    return tmp_path


def test_compose_writes_params_with_overrides(tmp_path):
    repo = copy_conf(tmp_path)
    out = mcuforge("compose", "board=qemu_cortex_m3", "prune.keep=0.7", cwd=repo)
    assert out.returncode == 0, out.stderr
    params = yaml.safe_load((repo / "params.yaml").read_text())
    board = yaml.safe_load((ROOT / "conf/board/qemu_cortex_m3.yaml").read_text())
    assert params["board"]["zephyr_board"] == board["zephyr_board"]
    assert params["prune"]["keep"] == 0.7 and params["prune"]["method"] == "channels"


def test_bad_input_is_one_line_naming_the_value(tmp_path):
    repo = copy_conf(tmp_path)
    out = mcuforge("compose", "board=no_such_board", cwd=repo)
    assert out.returncode == 2
    assert out.stderr.startswith("error: ") and "no_such_board" in out.stderr
    assert not (repo / "params.yaml").exists(), "a failed compose must not write params.yaml"

    out = mcuforge("best", "--board", "no_such_board", cwd=repo)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "conf/board/" in out.stderr


def doctor(path_dirs: list[Path], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ZEPHYR_BASE", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(map(str, path_dirs))
    return mcuforge("doctor", cwd=ROOT, env=env)


def test_doctor_passes_where_the_chain_runs(tmp_path):
    """CI ran scripts/setup.sh: everything the default chain needs is here."""
    out = doctor([Path(sys.executable).parent, *map(Path, os.environ["PATH"].split(os.pathsep))], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "dvc repro: can run" in out.stdout
    assert "Zephyr build:" in out.stdout


def test_doctor_names_what_is_missing_and_the_fix(tmp_path):
    """Only this interpreter on PATH: no gcc, no Arm toolchain, no QEMU -> exit 1, each named with its fix."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    out = doctor([bin_dir], tmp_path)
    assert out.returncode == 1, out.stdout
    for tool in ("gcc", "arm-none-eabi-gcc", "qemu-system-arm"):
        line = next(l for l in out.stdout.splitlines() if l.split()[1:2] == [tool])
        assert line.lstrip().startswith("MISSING") and "fix: apt-get install" in line, line
    assert "dvc repro: cannot run" in out.stdout


def test_doctor_catches_a_foreign_python_first_on_path(tmp_path):
    """DVC runs stages with the first `python` on PATH: one without mcuforge makes every stage fail."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(tmp_path / "other")], check=True)
    out = doctor([tmp_path / "other" / "bin", Path(sys.executable).parent,
                  *map(Path, os.environ["PATH"].split(os.pathsep))], tmp_path)
    assert out.returncode == 1, out.stdout
    line = next(l for l in out.stdout.splitlines() if "python on PATH" in l)
    assert "MISSING" in line and "cannot import mcuforge" in line and ".venv/bin/activate" in line


def test_zephyr_without_a_workspace_says_how_to_make_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ZEPHYR_BASE"}
    repo = copy_conf(tmp_path)
    shutil.copy(ROOT / "west.yml", repo / "west.yml")
    out = mcuforge("zephyr", cwd=repo, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "workspace: none"
    assert any("west init -l mcuforge && west update" in line for line in lines)
