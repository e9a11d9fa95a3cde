"""Source `csv`: your own recordings, one CSV file per recording.

Layout: <dataset.path>/<subject>/<recording>.csv, iterated in sorted order.

Each file has a header `time_s,<channels...>,label` (any column order; extra columns are
ignored and reported) and one row per sample. The recording id is `<subject>/<recording>`.
Every problem stops the ingest with one error naming `file:line` (header = line 1) and the fix.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from mcuforge.errors import McuforgeError
from mcuforge.data.ingest.table import DatasetSpec, assemble, recording_frame

LAYOUT = "<dataset.path>/<subject>/<recording>.csv"
PATH_FIX = ("put your recordings there as " + LAYOUT + ", or point dataset.path at your data "
            "(edit conf/dataset/csv.yaml and run `mcuforge compose`, or "
            "`dvc exp run -S dataset.path=/path/to/recordings`)")


def csv_files(root: Path) -> tuple[list[Path], list[str]]:
    """The recording files under `root`, sorted, plus findings about entries that were skipped."""
    if not root.is_dir():
        raise McuforgeError(f"dataset.path {str(root)!r} is not a folder (looked in "
                            f"{root.resolve()}); {PATH_FIX}")
    files, skipped = [], []
    for entry in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if entry.suffix == ".csv" and entry.is_file():
            raise McuforgeError(f"{entry}: CSV files must sit in a subject folder, {LAYOUT}; move "
                                f"it into one, e.g. {root / 'subject01' / entry.name}")
        if not entry.is_dir():
            skipped.append(str(entry))
            continue
        for recording in sorted(p for p in entry.iterdir() if not p.name.startswith(".")):
            if recording.suffix == ".csv" and recording.is_file():
                files.append(recording)
            else:
                skipped.append(str(recording))
    if not files:
        raise McuforgeError(f"dataset.path {str(root)!r} holds no <subject>/<recording>.csv "
                            f"files; {PATH_FIX}")
    findings = [f"ignored {len(skipped)} entries that are not <subject>/<recording>.csv files: "
                f"{skipped[:5]}{' ...' if len(skipped) > 5 else ''}"] if skipped else []
    return files, findings


def read_rows(path: Path, spec: DatasetSpec) -> tuple[dict[str, list[str]], np.ndarray, list[str]]:
    """The raw text of the needed columns, the line number of each row, and the ignored columns."""
    wanted = ["time_s", *spec.channels, "label"]
    texts = {name: [] for name in wanted}
    lines = []
    reader = csv.reader(io.StringIO(decode_utf8(path), newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        check_header(header, wanted, path)
        positions = [header.index(name) for name in wanted]
        for row in reader:
            if not row:  # blank line: nothing to read
                continue
            if len(row) != len(header):
                raise McuforgeError(f"{path}:{reader.line_num}: {len(row)} fields but the header "
                                    f"has {len(header)}; every row needs one value per column")
            for name, position in zip(wanted, positions):
                texts[name].append(row[position])
            lines.append(reader.line_num)
    except csv.Error as err:
        raise McuforgeError(f"{path}:{reader.line_num}: not a readable CSV line ({err}); "
                            "save the file as plain comma-separated text") from None
    if not lines:
        raise McuforgeError(f"{path}:2: no samples after the header; add one row per sample "
                            "(or delete the file)")
    return texts, np.asarray(lines), [name for name in header if name not in wanted]


def decode_utf8(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise McuforgeError(f"{path}:{line}: not UTF-8 text ({err.reason} at byte {err.start}); "
                            "save the file as UTF-8 CSV") from None


def check_header(header: list[str], wanted: list[str], path: Path) -> None:
    if not header:
        raise McuforgeError(f"{path}:1: the file is empty; it needs the header "
                            f"`{','.join(wanted)}` and one row per sample (or delete the file)")
    for name in wanted:
        if name not in header:
            raise McuforgeError(f"{path}:1: missing column {name!r}; the header must hold "
                                f"`{','.join(wanted)}` (any order; extra columns are ignored). "
                                "Rename the column, or fix dataset.channels in "
                                "conf/dataset/csv.yaml")
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise McuforgeError(f"{path}:1: column {repeated[0]!r} appears more than once; keep one")


def parse_numbers(texts: list[str], column: str, lines: np.ndarray, path: Path,
                  dtype) -> np.ndarray:
    """The column as finite numbers of `dtype`; the first bad value is an error naming its line."""
    try:
        values = np.array(texts, dtype=np.float64)
    except ValueError:  # slow path: find the first bad value
        values = np.empty(len(texts))
        for i, (text, line) in enumerate(zip(texts, lines)):
            try:
                values[i] = float(text)
            except ValueError:
                raise McuforgeError(f"{path}:{line}: column {column!r}: {text!r} is not a number; "
                                    "write plain decimal numbers such as 0.981") from None
    with np.errstate(over="ignore"):  # beyond float32 range -> inf, reported below
        values = values.astype(dtype)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        raise McuforgeError(f"{path}:{lines[first]}: column {column!r}: {texts[first]!r} is not a "
                            f"finite {np.dtype(dtype).name} value (NaN/inf); drop or interpolate "
                            "that sample")
    return values


def check_timing(time_s: np.ndarray, lines: np.ndarray, path: Path, spec: DatasetSpec) -> int:
    """Check timestamps strictly increase at the configured rate; return the number of gaps
    longer than two sample intervals (kept: not an error)."""
    if len(time_s) < 2:
        raise McuforgeError(f"{path}:{lines[0]}: only one sample; a recording needs at least two "
                            "to check its sampling rate")
    steps = np.diff(time_s)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0)) + 1
        raise McuforgeError(f"{path}:{lines[i]}: time_s {float(time_s[i])!r} is not after the "
                            f"previous sample's {float(time_s[i - 1])!r} (line {lines[i - 1]}); "
                            "timestamps must strictly increase: sort the rows or drop duplicates")
    expected = 1.0 / spec.sample_rate_hz
    measured = float(np.median(steps))
    if abs(measured - expected) > spec.rate_tolerance * expected:
        raise McuforgeError(f"{path}: measured sampling rate {1 / measured:.4g} Hz (median interval "
                            f"{measured:.6g} s) is not the configured dataset.sample_rate_hz = "
                            f"{spec.sample_rate_hz:g} Hz (dataset.rate_tolerance = "
                            f"{spec.rate_tolerance:g}); resample the recording to "
                            f"{spec.sample_rate_hz:g} Hz or set dataset.sample_rate_hz "
                            "(time_s must be in seconds)")
    return int((steps > 2 * expected).sum())


def read_recording(path: Path, spec: DatasetSpec) -> tuple[pd.DataFrame, dict]:
    """One CSV file, checked, as a canonical frame (time shifted to start at 0), plus notes
    (ignored columns, original start time, number of gaps) for the findings."""
    texts, lines, ignored = read_rows(path, spec)
    labels = [text.strip() for text in texts["label"]]
    allowed = set(spec.labels)
    unknown = [i for i, label in enumerate(labels) if label not in allowed]
    if unknown:
        first = unknown[0]
        raise McuforgeError(f"{path}:{lines[first]}: unknown label {labels[first]!r}; allowed "
                            f"(dataset.labels): {', '.join(spec.labels)}. Fix the label or add it "
                            "to dataset.labels in conf/dataset/csv.yaml")
    time_s = parse_numbers(texts["time_s"], "time_s", lines, path, np.float64)
    values = np.column_stack([parse_numbers(texts[name], name, lines, path, np.float32)
                              for name in spec.channels])
    gaps = check_timing(time_s, lines, path, spec)
    subject = path.parent.name
    frame = recording_frame(f"{subject}/{path.stem}", subject, time_s - time_s[0], values, labels,
                            spec.channels)
    return frame, {"ignored_columns": ignored, "start_s": float(time_s[0]), "gaps": gaps}


def read_csv_folder(spec: DatasetSpec) -> tuple[pd.DataFrame, list[str]]:
    """Every recording under dataset.path as one canonical table, plus findings."""
    if spec.rate_tolerance is None:
        raise McuforgeError("params.yaml: missing `dataset.rate_tolerance` (e.g. 0.02); add it to "
                            "conf/dataset/csv.yaml and recompose with `mcuforge compose`")
    files, findings = csv_files(Path(spec.path))
    frames, notes = [], {}
    for path in files:
        frame, notes[str(path)] = read_recording(path, spec)
        frames.append(frame)
    table = assemble(frames, spec)
    return table, findings + describe_notes(notes)


def describe_notes(notes: dict[str, dict]) -> list[str]:
    """Non-fatal observations, one line per kind (not one per file)."""
    findings = []
    ignored = sorted({name for note in notes.values() for name in note["ignored_columns"]})
    if ignored:
        files = [f for f, note in notes.items() if note["ignored_columns"]]
        findings.append(f"ignored extra column(s) {ignored} in {len(files)} file(s), "
                        f"e.g. {files[0]}")
    shifted = [f for f, note in notes.items() if note["start_s"] != 0]
    if shifted:
        findings.append(f"time_s of {len(shifted)} recording(s) did not start at 0 and was shifted "
                        f"to start at 0, e.g. {shifted[0]}")
    gappy = [f for f, note in notes.items() if note["gaps"]]
    if gappy:
        findings.append(f"{len(gappy)} recording(s) have gaps longer than two sample intervals "
                        f"(kept as they are), e.g. {gappy[0]}")
    return findings
