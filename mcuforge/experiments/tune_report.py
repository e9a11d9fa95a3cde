"""The tuner's report: every trial with its status, the Pareto front of the feasible ones, a plot.

The front is over the four objectives (accuracy up; flash, RAM + stack, latency down, latency at
0.01 ms) among feasible finished trials: a trial is on it when no other feasible trial is at least as good on all
four and better on one. Rows are sorted: front first (accuracy down, then flash, RAM, latency,
trial number), then dominated, infeasible, failed. Only measured values: nothing here is timed, so
the same trials give byte-identical reports.
"""
from __future__ import annotations

from pathlib import Path

from mcuforge import atomic

ORDER = {"front": 0, "dominated": 1, "infeasible": 2, "failed": 3}


def shown(params: dict) -> dict:
    """A trial's params as passed to dvc: floats of a stepped range rounded to 10 digits (0.6, not
    0.6000000000000001; tune_space.Param.suggest does the same)."""
    return {k: round(v, 10) if isinstance(v, float) else v for k, v in sorted(params.items())}


def overflow(result: dict) -> str:
    parts = [f"{what} +{result[key]:,} B" for what, key in (("flash", "flash_over"), ("RAM", "ram_over"))
             if result[key] > 0]
    return ", ".join(parts) + " over budget"


def objectives(row: dict) -> tuple:
    """Compared at the latency's printed resolution (0.01 ms): instruction counts move by a few per
    sparsity, which is no trade-off worth a place on the front."""
    latency = round(row["latency_ms"], 2) if row["latency_ms"] is not None else float("inf")
    return (-row["accuracy"], row["flash"], row["ram"], latency)


def dominates(a: tuple, b: tuple) -> bool:
    return all(x <= y for x, y in zip(a, b)) and a != b


def summarize(study) -> dict:
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        if t.state == TrialState.FAIL and "status" not in t.user_attrs:
            continue  # interrupted; its parameters were run again
        result = t.user_attrs.get("result") or {}
        feasible = t.state == TrialState.COMPLETE and result["flash_over"] <= 0 and result["ram_over"] <= 0
        status = "failed" if t.state == TrialState.FAIL else "feasible" if feasible else "infeasible"
        rows.append({"trial": t.number, "experiment": t.user_attrs.get("experiment"), "status": status,
                     "accuracy": result.get("accuracy"), "accuracy_source": result.get("accuracy_source", ""),
                     "flash": result.get("flash"), "ram": result.get("ram"), "latency_ms": result.get("latency_ms"),
                     "flash_over": result.get("flash_over", 0), "ram_over": result.get("ram_over", 0),
                     "params": shown(t.params),
                     "note": t.user_attrs.get("status", "")})
    feasible = [r for r in rows if r["status"] == "feasible"]
    for r in feasible:
        r["status"] = "dominated" if any(dominates(objectives(o), objectives(r)) for o in feasible) else "front"
    rows.sort(key=lambda r: (ORDER[r["status"]], *(objectives(r) if r["status"] in ("front", "dominated")
                                                   else (0, 0, 0, 0)), r["trial"]))
    return {"study": study.study_name, "board": study.user_attrs.get("board"),
            "space": study.user_attrs.get("space"), "rows": rows,
            "front": [r for r in rows if r["status"] == "front"]}


def _cells(r: dict) -> list[str]:
    measured = r["accuracy"] is not None
    budget = {"front": "fits *", "dominated": "fits", "failed": r["note"]}.get(r["status"]) or overflow(r)
    return [str(r["trial"]), r["experiment"] or "",
            f"{r['accuracy']:.4f} {r['accuracy_source']}" if measured else "-",
            "-" if r["flash"] is None else f"{r['flash']:,}", "-" if r["ram"] is None else f"{r['ram']:,}",
            "-" if r["latency_ms"] is None else f"{r['latency_ms']:.2f}", budget,
            " ".join(f"{k}={v}" for k, v in r["params"].items())]


def table(rows: list[dict]) -> str:
    head = ["trial", "experiment", "accuracy", "flash B", "RAM+stack B", "latency ms", "budget", "params"]
    body = [_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i in (0, 3, 4, 5) else c.ljust(w)
                               for i, (c, w) in enumerate(zip(line, widths))).rstrip() for line in [head, *body])


def text(summary: dict, board: dict) -> str:
    counts = {s: sum(r["status"] == s for r in summary["rows"]) for s in ORDER}
    tally = ", ".join(f"{n} {s}" for s, n in counts.items())
    lines = [f"study {summary['study']} on board {summary['board']} ({board['cpu']} at "
             f"{board['clock_hz'] / 1e6:g} MHz), space {summary['space']}: {len(summary['rows'])} trials: {tally}",
             "", "Pareto front (feasible trials; accuracy up, flash, RAM + stack, latency down):",
             table(summary["front"]) if summary["front"] else "(no feasible trial)",
             "", "All trials:", table(summary["rows"]),
             "", "accuracy: device = int8 model on the core under QEMU; latency = instructions / clock (an estimate); "
             "* = on the front; infeasible = over the board's budget (board size - reserve), not measured further"]
    return "\n".join(lines)


def plot(summary: dict, path: Path) -> None:
    """Accuracy against flash, one point per measured trial, colored by status (PNG via vl-convert)."""
    import vl_convert

    points = [{"trial": r["trial"], "accuracy": r["accuracy"], "flash": r["flash"], "status": r["status"],
               "ram": r["ram"]} for r in summary["rows"] if r["accuracy"] is not None]
    spec = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
            "title": f"mcuforge tune: study {summary['study']}, board {summary['board']}",
            "data": {"values": points}, "width": 480, "height": 320,
            "mark": {"type": "point", "filled": True, "size": 80},
            "encoding": {"x": {"field": "flash", "type": "quantitative", "title": "flash (B)",
                               "scale": {"zero": False}},
                         "y": {"field": "accuracy", "type": "quantitative", "title": "device accuracy",
                               "scale": {"zero": False}},
                         "color": {"field": "status", "type": "nominal"},
                         "tooltip": [{"field": "trial"}, {"field": "ram", "title": "RAM+stack (B)"}]}}
    atomic.write_bytes(path, vl_convert.vegalite_to_png(spec, scale=2.0))
