"""Stage ingest: the configured dataset → data/ingested.parquet (canonical long table) + reports/ingest.json.

Audio sources also give data/noise.npz (background noise for silence clips; empty otherwise).

    python -m stages.ingest      (from the project root; reads params.yaml `dataset`)
"""
from mcuforge.arrays import save_arrays
from mcuforge.atomic import atomic_path, write_json
from mcuforge.errors import stage_main
from mcuforge.data.ingest import dataset_spec, read_dataset, read_noise, summarize, write_parquet
from mcuforge.params import load_params

TABLE = "data/ingested.parquet"
REPORT = "reports/ingest.json"
NOISE = "data/noise.npz"


@stage_main
def main() -> None:
    spec = dataset_spec(load_params())
    table, findings = read_dataset(spec)          # every check runs before anything is written
    noise = read_noise(spec)
    report = summarize(table, spec, findings)
    with atomic_path(TABLE) as tmp:
        write_parquet(table, tmp)
    save_arrays(NOISE, noise)
    write_json(REPORT, report)
    print(f"ingest: {report['rows']:,} rows, {report['recordings']} recordings, "
          f"{report['subjects']} subjects -> {TABLE}")
    for finding in report["findings"]:
        print(f"  note: {finding}")


if __name__ == "__main__":
    main()
