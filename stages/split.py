"""Stage split: data/ingested.parquet → data/split.parquet (+ `split` column) and reports/split.json.

    python -m stages.split      (from the project root; reads params.yaml `split`)
"""
from mcuforge.atomic import atomic_path, write_json
from mcuforge.errors import stage_main
from mcuforge.data.ingest.table import read_parquet, write_parquet
from mcuforge.params import load_params
from mcuforge.data.split import split_spec, split_table

TABLE = "data/ingested.parquet"
SPLIT_TABLE = "data/split.parquet"
REPORT = "reports/split.json"


@stage_main
def main() -> None:
    spec = split_spec(load_params())
    table = read_parquet(TABLE, produced_by="python -m stages.ingest")
    result, report = split_table(table, spec)
    with atomic_path(SPLIT_TABLE) as tmp:
        write_parquet(result, tmp)
    write_json(REPORT, report)
    chosen = report["chosen"]
    print(f"split by {spec.group_by}: {chosen['method']}, seed {spec.seed} took rank "
          f"{chosen['rank']} of {chosen['near_optimal']} near-optimal assignment(s) (score "
          f"{chosen['score']:.4f}, best {chosen['best_score']:.4f}, tolerance {spec.tolerance:g}, "
          f"{chosen['candidates_evaluated']:,} scored) -> {SPLIT_TABLE}")
    for name, count in report["counts"].items():
        shown = report["groups"][name]
        listed = ", ".join(shown[:12]) + (f", ... ({len(shown)})" if len(shown) > 12 else "")
        plural = "" if count["groups"] == 1 else "s"
        print(f"  {name:5s} {count['groups']} group{plural}, {count['rows']:,} rows: {listed}")


if __name__ == "__main__":
    main()
