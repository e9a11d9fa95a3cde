"""Shared fixtures: the project root, and a subprocess environment that finds this venv's tools."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


def tool_env(**extra: str) -> dict[str, str]:
    """os.environ with this interpreter's bin/ first on PATH (dvc stages call `python`)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def tiny_fsdd(tmp_path_factory) -> dict:
    """A tiny FSDD slice (tests/kws_fixtures.py): {path, sha256, overrides} for `dataset=fsdd`."""
    from kws_fixtures import tiny_fsdd as make

    path, sha = make(tmp_path_factory.mktemp("tiny_fsdd"))
    return {"path": path, "sha256": sha,
            "overrides": ["dataset=fsdd", f"dataset.path={path}", f"dataset.sha256={sha}"]}


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory) -> Path:
    """The project on the tiny config, built and committed once per session (tests/dvc_repo.py's
    tiny_baseline); copy it with dvc_repo.clone_built before changing anything."""
    from dvc_repo import tiny_baseline

    return tiny_baseline(tmp_path_factory)
