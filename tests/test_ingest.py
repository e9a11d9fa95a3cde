"""Ingest: the canonical table from CSV folders and the real watch data; every bad input is one clear error."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mcuforge.errors import McuforgeError
from mcuforge.data.ingest import dataset_spec, read_dataset, summarize
from mcuforge.data.ingest.watch import file_sha256, watch_file

PROJECT = Path(__file__).resolve().parents[1]
CHANNELS = ["acc_x", "acc_y", "acc_z"]
LABELS = ["idle", "walk", "run"]
WATCH_SHA = "eb122f23cdf06ef6bd6c6c5312958ec5cf9d038e2e6d457b8081662c75a42537"
WATCH_LABELS = ["PEN", "ABD", "FEL", "IR", "ER", "TRAP", "ROW"]
WATCH_CHANNELS = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"]


def csv_params(path, **overrides) -> dict:
    dataset = {"source": "csv", "path": str(path), "sha256": None, "sample_rate_hz": 50,
               "rate_tolerance": 0.02, "channels": CHANNELS, "labels": LABELS}
    return {"dataset": {**dataset, **overrides}}


def recording_lines(n=20, start=0.0, label="walk", header="time_s,acc_x,acc_y,acc_z,label"):
    rows = [f"{start + i / 50:.6f},{0.1 * i:.3f},{-0.2 * i:.3f},9.81,{label}" for i in range(n)]
    return [header, *rows]


def write_csv(path: Path, lines) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_folder(root: Path) -> Path:
    """2 subjects x 2 recordings, every label present."""
    write_csv(root / "s01" / "a.csv", recording_lines(label="idle"))
    write_csv(root / "s01" / "b.csv", recording_lines(n=25, label="walk"))
    write_csv(root / "s02" / "a.csv", recording_lines(n=30, label="run"))
    write_csv(root / "s02" / "b.csv", recording_lines(n=15, label="walk"))
    return root


def ingest_error(root: Path, **overrides) -> str:
    with pytest.raises(McuforgeError) as err:
        read_dataset(dataset_spec(csv_params(root, **overrides)))
    return str(err.value)


# ---- CSV folder: good data --------------------------------------------------------------------

def test_csv_folder_gives_canonical_table(tmp_path):
    root = make_folder(tmp_path / "raw")
    # s01/b.csv: other column order, an extra column, times not starting at 0.
    lines = recording_lines(n=25, start=100.0, label="walk")
    reordered = ["label,acc_z,battery,time_s,acc_y,acc_x"]
    for line in lines[1:]:
        t, x, y, z, label = line.split(",")
        reordered.append(f"{label},{z},87,{t},{y},{x}")
    write_csv(root / "s01" / "b.csv", reordered)
    spec = dataset_spec(csv_params(root))
    table, findings = read_dataset(spec)

    assert list(table.columns) == ["recording", "subject", "time_s", *CHANNELS, "label"]
    assert [str(table[c].dtype) for c in ["time_s", *CHANNELS]] == ["float64"] + ["float32"] * 3
    assert sorted(table["recording"].unique()) == ["s01/a", "s01/b", "s02/a", "s02/b"]
    assert len(table) == 20 + 25 + 30 + 15
    assert table.groupby("recording")["time_s"].min().eq(0).all()
    assert list(table.index) == list(table.sort_values(["recording", "time_s"]).index)
    b = table[table["recording"] == "s01/b"]
    assert b["acc_x"].iloc[3] == np.float32(0.3) and b["acc_y"].iloc[3] == np.float32(-0.6)
    assert any("battery" in f for f in findings) and any("shifted" in f for f in findings)

    report = summarize(table, spec, findings)
    assert (report["rows"], report["recordings"], report["subjects"]) == (90, 4, 2)
    assert report["per_label"]["walk"] == {"rows": 40, "recordings": 2}
    assert report["sample_rate_hz"] == pytest.approx(50.0)
    assert report["duration_s"] == pytest.approx((19 + 24 + 29 + 14) / 50)



def test_gaps_in_time_are_kept_and_reported(tmp_path):
    """docs/data.md: "Gaps are kept and reported" -- a gap longer than two sample intervals stays in
    time_s (no row added or dropped) and is one finding naming the file; 1.5 intervals is no gap."""
    root = make_folder(tmp_path / "raw")

    def shifted(rows: list[str], after: int, by: float) -> list[str]:
        """rows (header first) with every sample from index `after` on `by` seconds later."""
        return [rows[0], *rows[1:after + 1], *(f"{i / 50 + by:.6f}," + r.split(",", 1)[1]
                                               for i, r in enumerate(rows[after + 1:], after))]

    write_csv(root / "s02" / "a.csv", shifted(recording_lines(n=30, label="run"), 10, 1.0))
    write_csv(root / "s02" / "b.csv", shifted(recording_lines(n=15, label="walk"), 5, 0.01))
    table, findings = read_dataset(dataset_spec(csv_params(root)))

    a = table[table["recording"] == "s02/a"]
    assert len(a) == 30 and len(table) == 20 + 25 + 30 + 15
    steps = np.round(np.diff(a["time_s"].to_numpy()), 6)
    assert sorted(set(steps)) == [0.02, 1.02] and list(steps).index(1.02) == 9
    assert a["acc_x"].iloc[10] == np.float32(1.0)  # the sample after the gap keeps its values
    assert [f for f in findings if "gap" in f] == [
        f"1 recording(s) have gaps longer than two sample intervals (kept as they are), "
        f"e.g. {root / 's02' / 'a.csv'}"], findings

# ---- CSV folder: every validation error names file:line, the field and the fix ----------------

def replace_line(path: Path, line: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("line, text, expected", [
    (1, "time_s,acc_x,acc_z,label", ["s02/b.csv:1", "missing column 'acc_y'"]),
    (5, "0.060000,0.3,abc,9.81,walk", ["s02/b.csv:5", "'acc_y'", "'abc' is not a number"]),
    (6, "0.080000,nan,0.1,9.81,walk", ["s02/b.csv:6", "'acc_x'", "NaN/inf"]),
    (7, "0.100000,0.1,0.1,inf,walk", ["s02/b.csv:7", "'acc_z'", "NaN/inf"]),
    (8, "0.120000,0.1,0.1,1e39,walk", ["s02/b.csv:8", "'acc_z'", "float32"]),
    (9, "0.000000,0.1,0.1,9.81,walk", ["s02/b.csv:9", "time_s", "strictly increase", "line 8"]),
    (10, "0.160000,0.1,0.1,9.81,jump", ["s02/b.csv:10", "unknown label 'jump'", "idle, walk, run"]),
    (11, "0.180000,0.1,0.1", ["s02/b.csv:11", "3 fields", "header has 5"]),
])
def test_bad_csv_value_names_file_line_and_field(tmp_path, line, text, expected):
    root = make_folder(tmp_path / "raw")
    replace_line(root / "s02" / "b.csv", line, text)
    message = ingest_error(root)
    for fragment in expected:
        assert fragment in message


def test_line_numbers_count_blank_lines_and_non_utf8_bytes(tmp_path):
    root = make_folder(tmp_path / "raw")
    path = root / "s01" / "a.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + ["", ""] + lines[2:]) + "\n")   # blank lines 3 and 4
    replace_line(path, 7, "0.080000,0.1,0.1,9.81,dance")                   # 5th sample
    assert "s01/a.csv:7: unknown label 'dance'" in ingest_error(root)

    make_folder(root)                                                      # undo s01/a.csv
    raw = (root / "s02" / "a.csv").read_bytes().split(b"\n")
    raw[3] = raw[3].replace(b"run", b"r\xfcn")                              # latin-1 on line 4
    (root / "s02" / "a.csv").write_bytes(b"\n".join(raw))
    assert "s02/a.csv:4: not UTF-8" in ingest_error(root)


def test_csv_outside_a_subject_folder_is_an_error(tmp_path):
    root = make_folder(tmp_path / "raw")
    write_csv(root / "loose.csv", recording_lines())
    assert "loose.csv: CSV files must sit in a subject folder" in ingest_error(root)


def test_wrong_sampling_rate_names_file_and_both_rates(tmp_path):
    root = make_folder(tmp_path / "raw")
    rows = [f"{i / 40:.6f},0.1,0.2,9.81,idle" for i in range(30)]
    write_csv(root / "s01" / "b.csv", ["time_s,acc_x,acc_y,acc_z,label", *rows])
    message = ingest_error(root)
    assert "s01/b.csv" in message and "40 Hz" in message and "50 Hz" in message


def test_rate_within_tolerance_is_accepted(tmp_path):
    root = make_folder(tmp_path / "raw")
    rows = [f"{i / 50.5:.6f},0.1,0.2,9.81,idle" for i in range(30)]   # 1 % off, tolerance 2 %
    write_csv(root / "s01" / "b.csv", ["time_s,acc_x,acc_y,acc_z,label", *rows])
    table, _ = read_dataset(dataset_spec(csv_params(root)))
    assert (table["recording"] == "s01/b").sum() == 30


@pytest.mark.parametrize("content, expected", [
    ("", ["s01/a.csv:1", "empty"]),
    ("time_s,acc_x,acc_y,acc_z,label\n", ["s01/a.csv:2", "no samples"]),
])
def test_empty_file_is_an_error(tmp_path, content, expected):
    root = make_folder(tmp_path / "raw")
    (root / "s01" / "a.csv").write_text(content)
    message = ingest_error(root)
    for fragment in expected:
        assert fragment in message


def test_missing_or_empty_folder_says_how_to_set_dataset_path(tmp_path):
    for root in (tmp_path / "nowhere", tmp_path):
        message = ingest_error(root)
        assert str(root) in message and "dataset.path" in message and "<subject>/<recording>.csv" in message


def test_bad_dataset_params_are_errors(tmp_path):
    with pytest.raises(McuforgeError, match="dataset.labels"):
        dataset_spec(csv_params(tmp_path, labels=[]))
    with pytest.raises(McuforgeError, match="sample_rate_hz"):
        dataset_spec(csv_params(tmp_path, sample_rate_hz=0))
    with pytest.raises(McuforgeError, match="dataset.source 'excel'"):
        read_dataset(dataset_spec(csv_params(tmp_path, source="excel")))


@pytest.mark.parametrize("groups, expected", [
    ([["acc_x", "acc_y", "acc_z"], ["gyr_x", "gyr_y", "gyr_z"]],
     "entry ['gyr_x', 'gyr_y', 'gyr_z'] names channel 'gyr_x', which is not in dataset.channels "
     "['acc_x', 'acc_y', 'acc_z']"),
    ([["acc_x", "acc_y"]], "entry ['acc_x', 'acc_y'] must list 3 distinct channels"),
    ([["acc_x", "acc_x", "acc_y"]], "must list 3 distinct channels"),
    ("acc_x", "dataset.vector_groups must be a list"),
])
def test_vector_groups_must_name_known_channels(tmp_path, groups, expected):
    with pytest.raises(McuforgeError) as err:
        dataset_spec(csv_params(tmp_path, vector_groups=groups))
    assert expected in str(err.value)
    assert dataset_spec(csv_params(tmp_path, vector_groups=[["acc_z", "acc_x", "acc_y"]]))
    assert dataset_spec(csv_params(tmp_path, vector_groups=[]))


def test_stage_rejects_vector_group_with_unknown_channel(tmp_path):
    project = project_dir(tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["dataset"]["vector_groups"] = [["acc_x", "acc_y", "mag_z"]]
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    result = run_stage(project)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "'mag_z'" in result.stderr and "dataset.vector_groups" in result.stderr
    assert not (project / "data" / "ingested.parquet").exists()


# ---- the stage as a subprocess: exit 2, one line, nothing written, old output untouched -----

def run_stage(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", "stages.ingest"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def project_dir(tmp_path: Path) -> Path:
    make_folder(tmp_path / "data" / "raw" / "csv")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(csv_params("data/raw/csv")))
    return tmp_path


def test_stage_bad_data_writes_nothing(tmp_path):
    project = project_dir(tmp_path)
    replace_line(project / "data/raw/csv/s01/a.csv", 4, "0.040000,0.1,0.1,9.81,sprint")
    result = run_stage(project)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "s01/a.csv:4" in result.stderr and "'sprint'" in result.stderr
    assert not (project / "reports").exists()
    assert sorted(p.name for p in (project / "data").iterdir()) == ["raw"]   # no temp files either


def test_stage_failed_run_keeps_previous_output_and_runs_are_byte_identical(tmp_path):
    project = project_dir(tmp_path)
    assert run_stage(project).returncode == 0
    table = project / "data" / "ingested.parquet"
    report = project / "reports" / "ingest.json"
    first = table.read_bytes(), report.read_bytes()
    assert run_stage(project).returncode == 0
    assert (table.read_bytes(), report.read_bytes()) == first   # deterministic bytes

    replace_line(project / "data/raw/csv/s02/a.csv", 1, "time_s,acc_x,acc_y,label")
    result = run_stage(project)
    assert result.returncode == 2 and "s02/a.csv:1" in result.stderr and "'acc_z'" in result.stderr
    assert (table.read_bytes(), report.read_bytes()) == first   # previous output untouched


# ---- the real watch data ------------------------------------------------------------------

def watch_params(**overrides) -> dict:
    dataset = {"source": "watch", "sha256": WATCH_SHA, "path": "pyproject.toml", "sample_rate_hz": 50,
               "channels": WATCH_CHANNELS, "labels": WATCH_LABELS}
    return {"dataset": {**dataset, **overrides}}


def test_watch_data_known_counts():
    spec = dataset_spec(watch_params())
    table, findings = read_dataset(spec)
    report = summarize(table, spec, findings)
    assert (report["rows"], report["recordings"], report["subjects"]) == (244102, 140, 10)
    assert list(table.columns) == ["recording", "subject", "time_s", *WATCH_CHANNELS, "label"]
    assert table["recording"].iloc[0] == "r000" and table["recording"].iloc[-1] == "r139"
    assert sorted(table["subject"].unique()) == [f"s{i:02d}" for i in range(1, 11)]
    assert all(v["recordings"] == 20 for v in report["per_label"].values())
    assert sum(v["rows"] for v in report["per_label"].values()) == 244102
    assert report["sample_rate_hz"] == 50.0
    assert report["duration_s"] == pytest.approx((244102 - 140) / 50)
    first = table[table["recording"] == "r000"]
    assert first["time_s"].iloc[2] == pytest.approx(0.04)


def test_watch_checksum_mismatch_names_file_hashes_and_fix():
    with pytest.raises(McuforgeError) as err:
        read_dataset(dataset_spec(watch_params(sha256="0" * 64)))
    message = str(err.value)
    assert "watch_dataset.npy" in message and WATCH_SHA in message and "0" * 64 in message
    assert "seglearn==1.2.5" in message and "conf/dataset/watch.yaml" in message


@pytest.mark.parametrize("overrides, expected", [
    ({"labels": ["PEN", "ABD", "FEL", "IR", "ER", "ROW", "TRAP"]}, "y_labels|index order"),
    ({"channels": WATCH_CHANNELS[:5]}, "5 names"),
    ({"sample_rate_hz": 100}, "50 Hz"),
])
def test_watch_config_mismatch_is_an_error(overrides, expected):
    with pytest.raises(McuforgeError, match=expected):
        read_dataset(dataset_spec(watch_params(**overrides)))


def test_watch_file_is_found_without_importing_seglearn():
    code = ("import sys; from mcuforge.data.ingest.watch import watch_file, file_sha256; "
            "print(file_sha256(watch_file())); print('seglearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [WATCH_SHA, "False"]
    assert file_sha256(watch_file()) == WATCH_SHA
