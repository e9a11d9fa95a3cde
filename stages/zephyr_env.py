"""zephyr_env: record the Zephyr workspace the firmware stage would build with.

DVC cannot see environment variables or a workspace outside the project, so this stage runs on
every `dvc repro` (always_changed, well under a second, no TensorFlow) and writes
build/zephyr_env.json: the Zephyr tree (ZEPHYR_BASE or the west workspace the project is in), its
version and git revision, the revisions of the modules west.yml allow-lists, and the toolchain
choice -- no timestamps. The firmware stage depends on the file: when a workspace appears, changes
or goes, its bytes change and the firmware stage runs again (the run-cache cannot hand back an old
"skipped: no Zephyr workspace" report); when nothing changed, nothing downstream runs.
"""
from __future__ import annotations

from pathlib import Path

from mcuforge import atomic
from mcuforge.errors import stage_main
from mcuforge.firmware.zephyr_workspace import find_workspace, workspace_key

OUT = Path("build/zephyr_env.json")


@stage_main
def main() -> None:
    ws = find_workspace(Path.cwd())
    key = workspace_key(ws)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(OUT, key)
    print(f"zephyr_env: {key['zephyr_base'] or 'no Zephyr workspace'}"
          + (f" (Zephyr {key['zephyr_version']}, {len(key['modules'])} modules, {key['toolchain']})"
             if key["zephyr_base"] else ""))


if __name__ == "__main__":
    main()
