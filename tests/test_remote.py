"""Remote storage with real dvc commands: the default local remote, per-user overrides, a fresh
clone, an S3 remote (moto_server on 127.0.0.1) and a dataset registry (`dvc import` / `dvc update`)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from dvc_repo import commit, copy_repo, digests, dvc_env, remove, run
from test_ingest import make_folder, recording_lines, write_csv

RAW = "data/raw/csv"
TARGETS = ["data/raw/csv.dvc", "ingest"]   # the copy's dvc.lock also names outputs never pushed
INGEST_OUTS = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["ingest"]["outs"]  # all cached
PINNED = [f"{RAW}/s01/a.csv", f"{RAW}/s01/b.csv", f"{RAW}/s02/a.csv", f"{RAW}/s02/b.csv", *INGEST_OUTS]
STORAGE = "mcuforge-dvc-storage"          # the committed default remote, beside the repository
MOTO_SERVER = ROOT / ".venv-moto/bin/moto_server"
BUCKET = "mcuforge-test"


def stored(storage: Path) -> set[str]:
    """The content-addressed files a local remote holds."""
    return {str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file()}


def clone(repo: Path, name: str) -> Path:
    """A fresh `git clone` beside `repo`, so the default remote `../mcuforge-dvc-storage` is shared."""
    run(["git", "clone", "-q", str(repo), name], repo.parent)
    return repo.parent / name


@pytest.fixture(scope="module")
def pinned(tmp_path_factory) -> Path:
    """A repo copy whose raw CSVs are pinned with `dvc add`, ingested, committed and pushed."""
    repo = copy_repo(tmp_path_factory.mktemp("remote") / "repo")
    make_folder(repo / RAW)
    run(["dvc", "add", RAW], repo)
    run(["python", "-m", "mcuforge.cli", "compose", "dataset=csv"], repo)
    run(["dvc", "repro", "ingest"], repo)
    commit(repo, "pin raw data")
    run(["dvc", "push"], repo)
    return repo


def test_default_remote_is_a_folder_beside_the_repository(pinned):
    assert run(["dvc", "remote", "list"], pinned).split() == ["local", str(pinned.parent / STORAGE), "(default)"]
    assert len(stored(pinned.parent / STORAGE)) == len(PINNED) + 1   # + the folder's .dir listing
    assert "Cache and remote 'local' are in sync" in run(["dvc", "status", "--cloud", *TARGETS], pinned)


def test_pull_restores_identical_bytes_after_cache_and_files_are_deleted(pinned):
    before = digests(pinned, PINNED)
    remove(pinned, [".dvc/cache", RAW, *INGEST_OUTS])
    run(["dvc", "pull", *TARGETS], pinned)
    assert digests(pinned, PINNED) == before
    assert "Data and pipelines are up to date" in run(["dvc", "status", "ingest"], pinned)


def test_fresh_clone_pulls_the_pinned_data(pinned):
    fresh = clone(pinned, "fresh")
    assert not (fresh / RAW).exists()
    run(["dvc", "pull", *TARGETS], fresh)
    assert digests(fresh, PINNED) == digests(pinned, PINNED)
    assert "Data and pipelines are up to date" in run(["dvc", "status", "ingest"], fresh)


def test_remote_url_and_default_remote_can_be_overridden_per_user(pinned):
    user = clone(pinned, "user")
    run(["dvc", "pull", *TARGETS], user)
    # another default remote, in the git-ignored .dvc/config.local
    run(["dvc", "remote", "add", "--local", "mine", str(pinned.parent / "mine")], user)
    run(["dvc", "remote", "default", "--local", "mine"], user)
    run(["dvc", "push"], user)
    # the committed remote's url moved to another folder
    run(["dvc", "remote", "modify", "--local", "local", "url", str(pinned.parent / "moved")], user)
    run(["dvc", "push", "-r", "local"], user)
    shared = stored(pinned.parent / STORAGE)
    assert stored(pinned.parent / "mine") == shared == stored(pinned.parent / "moved")
    assert run(["git", "status", "--porcelain"], user) == ""   # .dvc/config is untouched


# ---- S3 (moto_server on 127.0.0.1) -----------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto_server on a free 127.0.0.1 port with an empty bucket; killed at teardown."""
    if not MOTO_SERVER.exists():
        pytest.skip(f"{MOTO_SERVER.relative_to(ROOT)} is absent: run bash scripts/setup.sh")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not answers(url):
            assert server.poll() is None and time.monotonic() < deadline, "moto_server did not start"
            time.sleep(0.2)
        # CreateBucket; moto does not check signatures, so a bare PUT is enough
        urllib.request.urlopen(urllib.request.Request(f"{url}/{BUCKET}", method="PUT"), timeout=5).close()
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)


def s3_env(tmp_path: Path, **credentials: str) -> dict[str, str]:
    """No AWS config files, no instance-metadata lookups: credentials come only from `credentials`."""
    env = dvc_env(AWS_CONFIG_FILE=str(tmp_path / "absent"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "absent"),
                   AWS_EC2_METADATA_DISABLED="true", **credentials)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        if name not in credentials:
            env.pop(name, None)
    return env


def test_s3_push_then_pull_restores_identical_bytes(pinned, s3_endpoint, tmp_path):
    repo = clone(pinned, "s3")
    run(["dvc", "pull", *TARGETS], repo)
    run(["dvc", "remote", "add", "s3remote", f"s3://{BUCKET}/mcuforge"], repo)
    run(["dvc", "remote", "modify", "s3remote", "endpointurl", s3_endpoint], repo)
    no_credentials = subprocess.run(["dvc", "push", "-r", "s3remote"], cwd=repo, env=s3_env(tmp_path),
                                    capture_output=True, text=True, timeout=120)
    assert no_credentials.returncode != 0 and "Unable to locate credentials" in no_credentials.stderr
    env = s3_env(tmp_path, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    before = digests(repo, PINNED)
    assert f"{len(PINNED) + 1} files pushed" in run(["dvc", "push", "-r", "s3remote"], repo, env)
    remove(repo, [".dvc/cache", RAW, *INGEST_OUTS])
    run(["dvc", "pull", "-r", "s3remote", *TARGETS], repo, env)
    assert digests(repo, PINNED) == before
    assert "Data and pipelines are up to date" in run(["dvc", "status", "ingest"], repo)


# ---- dataset registry: dvc import / dvc update --rev ------------------------------------------

@pytest.fixture()
def registry(tmp_path) -> Path:
    """A git + dvc repo holding datasets/watch.csv, pushed to its own local remote (tag v1)."""
    registry = tmp_path / "registry"
    registry.mkdir()
    run(["git", "init", "-q"], registry)
    run(["dvc", "init", "-q"], registry)
    run(["dvc", "remote", "add", "-d", "storage", str(tmp_path / "registry-storage")], registry)
    publish(registry, recording_lines(n=20, label="walk"), "v1")
    return registry


def publish(registry: Path, lines: list[str], tag: str) -> None:
    write_csv(registry / "datasets/watch.csv", lines)
    run(["dvc", "add", "datasets/watch.csv"], registry)
    commit(registry, f"dataset {tag}")
    run(["git", "tag", tag], registry)
    run(["dvc", "push"], registry)


def test_registry_import_then_update_to_a_tag(registry, pinned):
    project = clone(pinned, f"project-{registry.parent.name}")
    remove(registry, [".dvc/cache"])            # the data must come from the registry's remote
    run(["dvc", "import", str(registry), "datasets/watch.csv", "-o", "data/raw/watch.csv"], project)
    imported = project / "data/raw/watch.csv"
    assert imported.read_bytes() == (registry / "datasets/watch.csv").read_bytes()
    commit(project, "import watch.csv v1")

    publish(registry, recording_lines(n=30, label="run"), "v2")
    run(["dvc", "update", "--rev", "v2", "data/raw/watch.csv.dvc"], project)
    assert imported.read_bytes() == (registry / "datasets/watch.csv").read_bytes()
    assert imported.read_text().splitlines()[-1].endswith(",run")
    source = yaml.safe_load((project / "data/raw/watch.csv.dvc").read_text())["deps"][0]["repo"]
    assert source["rev"] == "v2"
    assert source["rev_lock"] == run(["git", "rev-parse", "v2"], registry).strip()

    # a fresh clone of the project gets v2 from the registry's remote
    commit(project, "update watch.csv to v2")
    remove(registry, [".dvc/cache"])
    fresh = clone(project, f"{project.name}-fresh")
    run(["dvc", "pull", "data/raw/watch.csv.dvc"], fresh)
    assert (fresh / "data/raw/watch.csv").read_bytes() == imported.read_bytes()
