"""west.yml: west accepts it, its zephyr import resolves to exactly the allow-listed modules, and the
allow-list covers every module firmware/Kconfig, the Kconfig fragments and the boards in conf/board/
need. Runs in CI without Zephyr: `west init -l` is offline, and the import is resolved against a
stand-in zephyr repository holding the structure of Zephyr v4.1.0's manifest (names, paths, groups as
in v4.1.0's west.yml and submanifests/optional.yaml). With a real workspace, the last tests check
the same against it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from mcuforge.firmware import zephyr_workspace
from mcuforge.firmware.baremetal import CORES

WEST = [sys.executable, "-m", "west"]
# Zephyr v4.1.0's manifest, the entries that matter here (+ some it must leave out)
ZEPHYR_PROJECTS = [
    {"name": "cmsis", "path": "modules/hal/cmsis", "groups": ["hal"]},
    {"name": "cmsis-dsp", "path": "modules/lib/cmsis-dsp"},
    {"name": "cmsis-nn", "path": "modules/lib/cmsis-nn"},
    {"name": "cmsis_6", "repo-path": "CMSIS_6", "path": "modules/lib/cmsis_6"},
    {"name": "hal_espressif", "path": "modules/hal/espressif", "groups": ["hal"]},
    {"name": "hal_nordic", "path": "modules/hal/nordic", "groups": ["hal"]},
    {"name": "hal_st", "path": "modules/hal/st", "groups": ["hal"]},
    {"name": "hal_stm32", "path": "modules/hal/stm32", "groups": ["hal"]},
    {"name": "mbedtls", "path": "modules/crypto/mbedtls", "groups": ["crypto"]},
    {"name": "segger", "path": "modules/debug/segger", "groups": ["debug"]},
]
ZEPHYR_OPTIONAL = [
    {"name": "tflite-micro", "repo-path": "tflite-micro", "path": "optional/modules/lib/tflite-micro",
     "groups": ["optional"]},
    {"name": "thrift", "path": "optional/modules/lib/thrift", "groups": ["optional"]},
]


def west(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*WEST, *args], cwd=cwd, capture_output=True, text=True)


def git(args: list[str], cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def init_workspace(topdir: Path) -> Path:
    """`west init -l` on a copy of the project's west.yml (offline)."""
    project = topdir / "mcuforge"
    project.mkdir(parents=True)
    (project / "west.yml").write_text((ROOT / "west.yml").read_text())
    done = west(["init", "-l", "mcuforge"], topdir)
    assert done.returncode == 0, done.stderr
    return project


def stand_in_zephyr(topdir: Path) -> None:
    """A zephyr project checked out at manifest-rev whose west.yml has v4.1.0's structure."""
    zephyr = topdir / "zephyr"
    (zephyr / "submanifests").mkdir(parents=True)
    manifest = {"manifest": {"defaults": {"remote": "upstream"},
                             "remotes": [{"name": "upstream", "url-base": "https://github.com/zephyrproject-rtos"}],
                             "group-filter": ["-babblesim", "-optional"], "projects": ZEPHYR_PROJECTS,
                             "self": {"path": "zephyr", "import": "submanifests"}}}
    (zephyr / "west.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    optional = {"manifest": {"remotes": [{"name": "upstream", "url-base": "https://github.com/zephyrproject-rtos"}],
                             "projects": [dict(p, remote="upstream") for p in ZEPHYR_OPTIONAL]}}
    (zephyr / "submanifests" / "optional.yaml").write_text(yaml.safe_dump(optional, sort_keys=False))
    git(["init", "-q"], zephyr)
    git(["add", "-A"], zephyr)
    git(["commit", "-qm", "stand-in"], zephyr)
    git(["update-ref", "refs/heads/manifest-rev", "HEAD"], zephyr)


def test_west_reads_the_manifest_offline(tmp_path):
    from west.manifest import ImportFlag, Manifest
    init_workspace(tmp_path)
    manifest = Manifest.from_topdir(topdir=tmp_path, import_flags=ImportFlag.IGNORE)
    zephyr = manifest.get_projects(["zephyr"])[0]
    assert zephyr.revision == "v4.1.0" and zephyr.url == "https://github.com/zephyrproject-rtos/zephyr"
    assert [p.name for p in manifest.get_projects([])] == ["manifest", "zephyr"]


def test_west_manifest_validate_and_the_allowlist_resolve(tmp_path):
    init_workspace(tmp_path)
    stand_in_zephyr(tmp_path)
    done = west(["manifest", "--validate"], tmp_path)
    assert done.returncode == 0, done.stderr
    listed = west(["list", "-f", "{name} {path}"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    active = dict(line.split() for line in listed.stdout.splitlines())
    wanted, _ = zephyr_workspace.allowlist(ROOT)
    # every allow-listed name is a real project of Zephyr's manifest (a typo would drop it), nothing
    # else comes in, and tflite-micro is active although Zephyr's own group-filter turns `optional` off
    assert set(active) == {"manifest", "zephyr", *wanted}
    assert active["tflite-micro"] == "optional/modules/lib/tflite-micro"


def test_a_broken_manifest_fails_validation(tmp_path):
    init_workspace(tmp_path)
    stand_in_zephyr(tmp_path)
    manifest = tmp_path / "mcuforge" / "west.yml"
    manifest.write_text(manifest.read_text().replace("name-allowlist:", "name-allow-list:"))
    assert west(["manifest", "--validate"], tmp_path).returncode != 0


def kconfig_symbols() -> list[str]:
    """What the application turns on: `select`s in firmware/Kconfig and CONFIG_*=y in its fragments
    (the sensor window source's board fragments in firmware/boards/ too)."""
    symbols = re.findall(r"^\s*select\s+(\w+)", (ROOT / "firmware/Kconfig").read_text(), re.M)
    for conf in sorted((ROOT / "firmware").rglob("*.conf")):
        symbols += re.findall(r"^CONFIG_(\w+)=y", conf.read_text(), re.M)
    return sorted(set(symbols))


def boards() -> dict[str, dict]:
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted((ROOT / "conf/board").glob("*.yaml"))}


def test_every_board_has_its_modules_stated():
    for name, board in boards().items():
        assert board["zephyr_board"] in zephyr_workspace.MODULES_FOR_BOARD, (
            f"conf/board/{name}.yaml: add {board['zephyr_board']!r} to MODULES_FOR_BOARD")
        buildable = zephyr_workspace.MODULES_FOR_BOARD[board["zephyr_board"]] is not None
        assert buildable == (board["cpu"] in CORES and board["zephyr_board"] not in zephyr_workspace.NOT_BUILDABLE), name


def test_allowlist_is_exactly_what_the_app_and_the_boards_need():
    wanted, pinned = zephyr_workspace.allowlist(ROOT)
    assert pinned == "v4.1.0"
    symbols = kconfig_symbols()
    assert {"TENSORFLOW_LITE_MICRO", "TENSORFLOW_LITE_MICRO_CMSIS_NN_KERNELS"} <= set(symbols)
    needed = set()
    for board in boards().values():
        if zephyr_workspace.MODULES_FOR_BOARD[board["zephyr_board"]] is not None:
            needed |= set(zephyr_workspace.modules_needed(board["zephyr_board"], symbols))
    assert needed - set(wanted) == set(), "not allow-listed in west.yml"
    assert set(wanted) - needed == set(), "allow-listed in west.yml but needed by nothing"


def test_modules_needed_follow_backend_and_board():
    assert zephyr_workspace.modules_needed("qemu_cortex_m3", []) == ["cmsis"]
    assert zephyr_workspace.modules_needed("qemu_cortex_m3", ["TENSORFLOW_LITE_MICRO"]) == ["cmsis", "tflite-micro"]
    assert zephyr_workspace.modules_needed("nrf52840dk/nrf52840", ["TENSORFLOW_LITE_MICRO_CMSIS_NN_KERNELS"]) == [
        "cmsis", "cmsis-dsp", "cmsis-nn", "hal_nordic", "segger", "tflite-micro"]


# --- with a real Zephyr workspace -------------------------------------------------------------

REAL = zephyr_workspace.find_workspace(ROOT)
needs_workspace = pytest.mark.skipif(REAL.topdir is None or REAL.zephyr_base is None,
                                     reason="no west workspace around the project (docs/zephyr.md: west init "
                                            "-l mcuforge && west update)")


@needs_workspace
def test_real_workspace_validates_and_holds_the_allowlist():
    done = west(["manifest", "--validate"], REAL.topdir)
    assert done.returncode == 0, done.stderr
    assert REAL.modules_missing == [], REAL.problems


@needs_workspace
def test_kconfig_symbols_are_defined_by_the_modules_stated():
    """Each module-provided symbol the app turns on is defined in zephyr/modules/<module>/Kconfig."""
    for symbol in kconfig_symbols():
        prefix = next((p for p in zephyr_workspace.MODULES_FOR_KCONFIG if symbol.startswith(p)), None)
        if prefix is None:
            continue
        defined = [k for k in (REAL.zephyr_base / "modules").glob("*/Kconfig*")
                   if re.search(rf"^(menu)?config {symbol}$", k.read_text(errors="replace"), re.M)]
        assert defined and defined[0].parent.name == zephyr_workspace.MODULES_FOR_KCONFIG[prefix][0], symbol
