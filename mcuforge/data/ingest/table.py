"""The canonical long table every source is turned into, and its checks, summary and file format.

One row per sample, columns in this order:

    recording (str) | subject (str) | time_s (float64, from the recording start) |
    <one float32 column per dataset.channels> | label (str, one of dataset.labels)

sorted by recording, then time_s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mcuforge.errors import McuforgeError

ID_COLUMNS = ("recording", "subject", "time_s")
LABEL_COLUMN = "label"
STRING_COLUMNS = {"recording", "subject", "label", "split"}
RESERVED_NAMES = STRING_COLUMNS | {"time_s"}

# Fixed writer options: the same table always gives the same bytes.
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True,
                       write_statistics=True, row_group_size=1 << 20, version="2.6",
                       data_page_version="1.0")


@dataclass(frozen=True)
class DatasetSpec:
    """The `dataset` section of params.yaml, checked."""

    source: str
    path: str
    sha256: str | None
    sample_rate_hz: float
    channels: tuple[str, ...]
    labels: tuple[str, ...]
    rate_tolerance: float | None = None
    # The whole section, for the keys only some sources read (audio: wav_spec.py).
    section: dict = field(default_factory=dict, compare=False, repr=False)


def dataset_spec(params: dict) -> DatasetSpec:
    """Read and check params.yaml's `dataset` section (names the key and the fix on error)."""
    section = params.get("dataset") if isinstance(params, dict) else None
    if not isinstance(section, dict):
        raise McuforgeError("params.yaml: missing `dataset` section; compose it with "
                            "`mcuforge compose`")

    def need(key):
        if key not in section:
            raise McuforgeError(f"params.yaml: missing `dataset.{key}`; add it to conf/dataset/ "
                                "and recompose with `mcuforge compose`")
        return section[key]

    channels = _name_list(need("channels"), "channels")
    labels = _name_list(need("labels"), "labels")
    clash = sorted(set(channels) & RESERVED_NAMES)
    if clash:
        raise McuforgeError(f"params.yaml: dataset.channels uses reserved column name(s) {clash}; "
                            "rename those channels")
    check_vector_groups(section.get("vector_groups") or [], channels)
    rate = need("sample_rate_hz")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise McuforgeError(f"params.yaml: dataset.sample_rate_hz must be a positive number of "
                            f"samples per second, got {rate!r}")
    tolerance = section.get("rate_tolerance")
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                  or not 0 <= tolerance < 1):
        raise McuforgeError(f"params.yaml: dataset.rate_tolerance must be a fraction in [0, 1), "
                            f"e.g. 0.02, got {tolerance!r}")
    sha = section.get("sha256")
    return DatasetSpec(source=str(need("source")), path=str(need("path")),
                       sha256=None if sha is None else str(sha), sample_rate_hz=float(rate),
                       channels=channels, labels=labels,
                       rate_tolerance=None if tolerance is None else float(tolerance),
                       section=dict(section))


def check_vector_groups(groups, channels: tuple[str, ...]) -> None:
    """dataset.vector_groups: a list of 3-axis groups, each naming 3 distinct dataset.channels."""
    if not isinstance(groups, list):
        raise McuforgeError(f"params.yaml: dataset.vector_groups must be a list of 3-channel lists "
                            f"(e.g. [[acc_x, acc_y, acc_z]]) or [], got {groups!r}")
    for group in groups:
        if not isinstance(group, list) or len(group) != 3 or len(set(map(str, group))) != 3:
            raise McuforgeError(f"params.yaml: dataset.vector_groups entry {group!r} must list 3 "
                                f"distinct channels of dataset.channels {list(channels)}")
        unknown = [name for name in group if name not in channels]
        if unknown:
            raise McuforgeError(f"params.yaml: dataset.vector_groups entry {group} names channel "
                                f"{unknown[0]!r}, which is not in dataset.channels {list(channels)}; "
                                "fix the entry in conf/dataset/ and recompose")


def _name_list(value, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise McuforgeError(f"params.yaml: dataset.{key} must be a non-empty list of names, got "
                            f"{value!r}; set it in conf/dataset/ and recompose with "
                            "`mcuforge compose`")
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise McuforgeError(f"params.yaml: dataset.{key} lists {duplicates} more than once")
    return tuple(value)


def columns(channels) -> list[str]:
    return [*ID_COLUMNS, *channels, LABEL_COLUMN]


def recording_frame(recording: str, subject: str, time_s: np.ndarray, values: np.ndarray,
                    labels, channels) -> pd.DataFrame:
    """One recording in canonical form; `values` is (samples, channels), `labels` one per sample."""
    n = len(time_s)
    frame = {"recording": np.full(n, recording, dtype=object),
             "subject": np.full(n, subject, dtype=object),
             "time_s": np.asarray(time_s, dtype=np.float64)}
    for i, name in enumerate(channels):
        frame[name] = np.asarray(values[:, i], dtype=np.float32)
    frame[LABEL_COLUMN] = np.asarray(labels, dtype=object)
    return pd.DataFrame(frame)


def assemble(frames: list[pd.DataFrame], spec: DatasetSpec) -> pd.DataFrame:
    """Concatenate per-recording frames, sort, and check the result is canonical."""
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(["recording", "time_s"], kind="stable", ignore_index=True)
    check_table(table, spec.channels, spec.labels)
    return table


def check_table(table: pd.DataFrame, channels, labels) -> None:
    """Raise McuforgeError unless `table` is canonical (the last line of defence for every source)."""
    expected = columns(channels)
    if list(table.columns) != expected:
        raise McuforgeError(f"table columns {list(table.columns)} are not the canonical {expected}")
    if table.empty:
        raise McuforgeError("the dataset has no samples")
    for name in channels:
        bad = ~np.isfinite(table[name].to_numpy())
        if bad.any():
            row = table.loc[int(np.argmax(bad))]
            raise McuforgeError(f"recording {row['recording']}, t={row['time_s']} s: channel "
                                f"{name!r} is not a finite float32 value ({row[name]})")
    unknown = sorted(set(table[LABEL_COLUMN].unique()) - set(labels))
    if unknown:
        raise McuforgeError(f"labels {unknown} are not in dataset.labels {list(labels)}")
    same_recording = table["recording"].to_numpy()[1:] == table["recording"].to_numpy()[:-1]
    if (same_recording & (np.diff(table["time_s"].to_numpy()) <= 0)).any():
        raise McuforgeError("time_s must strictly increase within each recording")


def channels_of(table: pd.DataFrame) -> list[str]:
    """The channel columns of a canonical table (between time_s and label)."""
    names = list(table.columns)
    if names[:3] != list(ID_COLUMNS) or LABEL_COLUMN not in names:
        raise McuforgeError(f"not a canonical table: columns {names}; rerun "
                            "`python -m stages.ingest`")
    return names[3:names.index(LABEL_COLUMN)]


def summarize(table: pd.DataFrame, spec: DatasetSpec, findings: list[str]) -> dict:
    """The ingest report: sizes, per-label counts, measured rate, total duration, findings."""
    by_recording = table.groupby("recording", sort=True)["time_s"]
    intervals = by_recording.diff().dropna().to_numpy()
    recordings_of = table.groupby(LABEL_COLUMN)["recording"].nunique()
    rows_of = table[LABEL_COLUMN].value_counts()
    per_label = {label: {"rows": int(rows_of.get(label, 0)),
                         "recordings": int(recordings_of.get(label, 0))} for label in spec.labels}
    return {
        "source": spec.source,
        "rows": int(len(table)),
        "recordings": int(table["recording"].nunique()),
        "subjects": int(table["subject"].nunique()),
        "channels": list(spec.channels),
        "labels": list(spec.labels),
        "per_label": per_label,
        "sample_rate_hz": round(1.0 / float(np.median(intervals)), 6) if len(intervals) else None,
        # Sum over recordings of (last - first timestamp).
        "duration_s": round(float((by_recording.max() - by_recording.min()).sum()), 6),
        "findings": list(findings) + [f"label {label!r} has no samples" for label in spec.labels
                                      if per_label[label]["rows"] == 0],
    }


def write_parquet(table: pd.DataFrame, path: str | Path) -> None:
    """Write `table` to `path` (a temp path from atomic_path) with fixed schema and options."""
    fields = [pa.field(name, pa.string() if name in STRING_COLUMNS
                       else pa.from_numpy_dtype(table[name].dtype)) for name in table.columns]
    arrow = pa.Table.from_pandas(table, schema=pa.schema(fields), preserve_index=False)
    pq.write_table(arrow.replace_schema_metadata(None), path, **PARQUET_OPTIONS)


def read_parquet(path: str | Path, produced_by: str) -> pd.DataFrame:
    """Read a table written by write_parquet; a missing file names the stage that produces it."""
    path = Path(path)
    if not path.exists():
        raise McuforgeError(f"{path} not found: run `{produced_by}` first (or `dvc repro`)")
    return pq.read_table(path).to_pandas()
