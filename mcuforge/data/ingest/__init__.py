"""Ingest: turn the configured dataset source into the canonical long table (see table.py)."""
from __future__ import annotations

import pandas as pd

from mcuforge.errors import McuforgeError
from mcuforge.data.ingest.csv_folder import read_csv_folder
from mcuforge.data.ingest.table import DatasetSpec, dataset_spec, read_parquet, summarize, write_parquet
from mcuforge.data.ingest.wav import read_noise, read_pack_source, read_wav_source
from mcuforge.data.ingest.watch import read_watch

READERS = {"watch": read_watch, "csv": read_csv_folder, "wav": read_wav_source,
           "pcm_pack": read_pack_source}

__all__ = ["DatasetSpec", "dataset_spec", "read_dataset", "read_noise", "read_parquet", "summarize",
           "write_parquet"]


def read_dataset(spec: DatasetSpec) -> tuple[pd.DataFrame, list[str]]:
    """The canonical table of `spec`'s source, plus non-fatal findings. Bad data raises McuforgeError."""
    if spec.source not in READERS:
        raise McuforgeError(f"params.yaml: dataset.source {spec.source!r} is unknown; use one of "
                            f"{sorted(READERS)} (conf/dataset/)")
    return READERS[spec.source](spec)
