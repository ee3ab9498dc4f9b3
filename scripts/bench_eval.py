"""Benchmark the full evaluation on a generated table (default 50,000 rows × 15 columns).

Prints wall time, peak RSS and the scores; the goal on 2 CPU cores is <= 60 s and <= 2 GB.
Usage: ``python scripts/bench_eval.py [--rows 50000] [--holdout 2000] [--report out.html]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_table(n: int, seed: int) -> pd.DataFrame:
    """15 columns: 8 numeric (correlated), 4 categorical, 1 boolean, 1 date, 1 integer count."""
    weights = np.random.default_rng(0).normal(size=(8, 3))  # the population: fixed across samples
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3))
    cols: dict[str, object] = {}
    for i, w in enumerate(weights):
        cols[f"num_{i}"] = z @ w + 0.5 * rng.normal(size=n)
    cols["income"] = np.round(np.exp(10 + 0.4 * z[:, 0] + 0.3 * rng.normal(size=n)), 2)
    cols["segment"] = np.where(z[:, 1] + 0.5 * rng.normal(size=n) > 0, "retail", "business")
    cols["region"] = rng.choice(
        ["north", "south", "east", "west", "central"], n, p=[0.3, 0.25, 0.2, 0.15, 0.1]
    )
    cols["product"] = np.array([f"p{k}" for k in range(40)])[np.clip((z[:, 2] * 8 + 20).astype(int), 0, 39)]
    cols["active"] = z[:, 0] + rng.normal(size=n) > -0.5
    cols["signup"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    cols["visits"] = rng.poisson(np.exp(1 + 0.3 * z[:, 1]))
    return pd.DataFrame(cols)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--holdout", type=int, default=2_000)
    parser.add_argument("--synthetic", type=int, default=50_000)
    parser.add_argument("--report", type=Path, default=None, help="also write the HTML report here")
    args = parser.parse_args(argv)

    from safe_synthesizer.config.parameters import EvaluationParameters
    from safe_synthesizer.evaluation import evaluate, render_report

    train = make_table(args.rows, 1)
    holdout = make_table(args.holdout, 2)
    synthetic = make_table(args.synthetic, 3)
    config = EvaluationParameters(target_column="segment")
    start = time.perf_counter()
    result = evaluate(train, holdout, synthetic, config)
    wall = time.perf_counter() - start
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(render_report(result, "bench_eval"), encoding="utf-8")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"table: train {len(train)} x {train.shape[1]}, holdout {len(holdout)}, synthetic {len(synthetic)}")
    print(f"SQS {result.sqs}  DPS {result.dps}  warnings {len(result.metrics['warnings'])}")
    print("stages (s): " + ", ".join(f"{k} {v}" for k, v in result.metrics["timings_seconds"].items()))
    print(f"wall time {wall:.1f} s (goal <= 60 s); peak RSS {rss_mb:.0f} MB (goal <= 2048 MB)")
    return 0 if wall <= 60 and rss_mb <= 2048 else 1


if __name__ == "__main__":
    sys.exit(main())
