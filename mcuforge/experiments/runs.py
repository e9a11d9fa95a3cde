"""`dvc exp show --json` as a flat list of rows: the workspace, each baseline commit, each experiment.

    rows = experiment_rows(exp_show(".")); row.param("board.cpu"); row.metric("firmware", "flash_bytes")

Params are params.yaml flattened to dotted keys; metrics are per report ("firmware" for
reports/firmware.json), flattened the same way (`qemu.device_accuracy`). DVC leaves lists out.
A queued, running or failed experiment keeps its `state` and carries no results (`finished` is
False): its metrics in the JSON are the baseline's, so they are dropped here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

PARAMS_FILE = "params.yaml"


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass(frozen=True)
class ExperimentRow:
    name: str                 # experiment name, baseline branch/short sha, or "workspace"
    rev: str
    kind: str                 # "workspace", "baseline" or "experiment"
    baseline: str             # name of the baseline row it belongs to (itself for baselines)
    state: str = "success"    # DVC executor state: success, queued, running, failed
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)   # report stem -> flat dict

    @property
    def finished(self) -> bool:
        return self.state == "success"

    def param(self, key: str, default=None):
        return self.params.get(key, default)

    def metric(self, report: str, key: str, default=None):
        return self.metrics.get(report, {}).get(key, default)


def _row(entry: dict, kind: str, baseline: str, name: str, state: str) -> ExperimentRow:
    data = entry.get("data") or {}
    if entry.get("error"):
        state = "failed"
    params = flatten(((data.get("params") or {}).get(PARAMS_FILE) or {}).get("data") or {})
    metrics = {} if state != "success" else {
        PurePosixPath(path).stem: flatten(report.get("data") or {})
        for path, report in (data.get("metrics") or {}).items()}
    return ExperimentRow(name=name, rev=entry["rev"], kind=kind, baseline=baseline, state=state,
                         params=params, metrics=metrics)


def experiment_rows(exp_show_json: list[dict]) -> list[ExperimentRow]:
    rows = []
    for top in exp_show_json:
        if top["rev"] == "workspace":
            rows.append(_row(top, "workspace", "workspace", "workspace", "success"))
            continue
        baseline = top.get("name") or top["rev"][:7]
        rows.append(_row(top, "baseline", baseline, baseline, "success"))
        for exp in top.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state") or "success"
            for rev in exp.get("revs") or []:
                rows.append(_row(rev, "experiment", baseline, rev.get("name") or rev["rev"][:7], state))
    return rows
