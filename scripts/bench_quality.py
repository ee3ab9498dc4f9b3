"""``make bench-quality``: this project's synthesizer against open peers, on public tables, one run.

For each dataset (``--dataset adult|loans|birds|all``; see ``scripts/bench_quality_peer.py`` for the
sources and licences) the table is split 50/50 with a fixed seed into build/bench-quality/<dataset>/
train.csv and holdout.csv, then, sequentially on this machine:

1. ``ours``: this project's CLI with its DEFAULT config (only ``generation.num_records = len(train)``
   and ``evaluation.target_column``), ``--device cpu``, on train.csv;
2. ``mostly``: MOSTLY AI's open engine (TabularARGN) with its defaults;
3. ``gaussiancopula``: SDV's GaussianCopulaSynthesizer with its defaults;
4. two references: ``marginals`` (each column sampled independently from train) and ``copy``
   (the training rows themselves; the privacy figures must flag it).

With ``--dp-epsilon E`` two rows are added: ``ours_dp`` (the default config plus ``privacy:
{dp_enabled: true, epsilon: E}``) and ``mostly_dp`` (MOSTLY AI's engine with its differential
privacy at ``max_epsilon = E``, its value protection included; it trains until its ε reaches E,
which can take long on a CPU: ``--skip mostly_dp`` leaves it out).

Each generator's wall time (fit + sample) is measured. The peers and the independent scorer run in a
separate cached venv (``--bench-python``; built by ``make bench-quality-venv``): SDMetrics
QualityReport, train-synthetic-test-real AUC (over the target classes with at least 20 rows of the
real training split: a rarer class makes the gradient-boosting scorer unstable), DCR share and
exact copies. The project's own SQS and
DPS come from ``safe_synthesizer.evaluation.evaluate`` in this (the project's) venv, on the same
train/holdout for every generator; for ``ours`` the SQS/DPS of its summary.json are printed too.

Prints one table per dataset and writes build/bench-quality/results.json.
Usage: ``python scripts/bench_quality.py [--dataset all] [--rows N] [--skip ours] ...``.
"""

from __future__ import annotations

import os
import sys

# The peers and ours get the same CPU threads (``--threads``, default all cores), set in the
# environment of every subprocess and of this one before numpy loads. OpenMP threads wait
# passively: on a shared, busy 2-core machine the default active spin made 2-thread torch
# training 10-15x slower than 1 thread (measured), which would time the machine's load, not the
# generators.


def _threads_from_argv(argv: list[str]) -> str:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return str(os.cpu_count() or 1)


THREADS = _threads_from_argv(sys.argv[1:])
THREAD_ENV = {k: THREADS for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
THREAD_ENV["SAFE_SYNTH_THREADS"] = THREADS  # the project's own thread setting, when it reads one
THREAD_ENV["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
os.environ.update(THREAD_ENV)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from bench_quality_metrics import TSTR_MIN_CLASS_ROWS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "scripts" / "bench_quality_peer.py"
DATASETS = ["adult", "loans", "birds"]
PEERS = ["mostly", "gaussiancopula"]
REFERENCES = ["marginals", "copy"]
SKIPPABLE = ["ours", *PEERS, "mostly_dp"]
LABELS = {
    "ours": "ours (default)",
    "ours_dp": "ours (DP)",
    "mostly": "MOSTLY AI engine",
    "mostly_dp": "MOSTLY AI engine (DP)",
    "gaussiancopula": "SDV GaussianCopula",
    "marginals": "ref: indep. marginals",
    "copy": "ref: copy of train",
}
# what a generator's entry keeps from the previous run under --rescore (the rest is scored anew)
KEPT_ON_RESCORE = {
    "wall_s",
    "cli_wall_s",
    "process_wall_s",
    "exit_code",
    "log",
    "synthetic",
    "error",
    "status",
}
KEPT_ON_RESCORE |= {"summary_sqs", "summary_dps", "timings_seconds", "epsilon_spent"}
DEFAULT_BENCH_PYTHON = Path.home() / ".cache" / "safe-synth-bench" / "venv" / "bin" / "python"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_logged(cmd: list[str], logfile: Path, timeout: float | None = None) -> tuple[int, float]:
    """Run ``cmd`` with its output to ``logfile``; (exit code, wall seconds). 124 on timeout."""
    start = time.perf_counter()
    with open(logfile, "w") as fh:
        try:
            rc = subprocess.run(
                cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **THREAD_ENV}, timeout=timeout
            ).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    return rc, time.perf_counter() - start


def tail(path: Path, n: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def last_json_line(path: Path) -> dict:
    for line in reversed(path.read_text(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


def run_ours(folder: Path, meta: dict, timeout: float | None, dp_epsilon: float | None = None) -> dict:
    """The project's CLI with its default config (plus ``privacy`` at ``dp_epsilon`` when given: only
    ``dp_enabled`` and ``epsilon`` set, every other DP setting at its default); wall = CLI wall less
    its own evaluation stage."""
    work = folder / ("ours" if dp_epsilon is None else "ours_dp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = work / "config.yaml"
    text = (
        f"generation:\n  num_records: {meta['train_rows']}\nevaluation:\n  target_column: {meta['target']}\n"
    )
    if dp_epsilon is not None:
        text += f"privacy:\n  dp_enabled: true\n  epsilon: {dp_epsilon}\n"
    config.write_text(text)
    cli = Path(sys.executable).parent / "safe-synthesizer"
    cmd = [str(cli), "run", "--device", "cpu", "--quiet", "--config", str(config)]
    cmd += ["--data-source", str(folder / "train.csv"), "--output", str(work / "out")]
    rc, wall = run_logged(cmd, work / "run.log", timeout)
    out: dict = {"cli_wall_s": round(wall, 1), "exit_code": rc, "log": str(work / "run.log")}
    summary_path = work / "out" / "summary.json"
    synthetic = work / "out" / "synthetic_data.csv"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        scores = summary.get("scores") or {}
        timings = summary.get("timings_seconds") or {}
        out["summary_sqs"], out["summary_dps"] = scores.get("sqs"), scores.get("dps")
        out["timings_seconds"] = timings
        out["status"] = summary.get("status")
        if summary.get("privacy"):
            out["epsilon_spent"] = summary["privacy"].get("epsilon_spent")
        out["wall_s"] = round(wall - float(timings.get("evaluate", 0.0)), 1)
    else:
        out["wall_s"] = round(wall, 1)
    if rc != 0 or not synthetic.exists():
        out["error"] = (
            f"exit {rc}" + (" (timeout)" if rc == 124 else "") + f"; log tail:\n{tail(work / 'run.log')}"
        )
        return out
    out["synthetic"] = str(synthetic)
    return out


def run_peer(
    bench_python: str, method: str, folder: Path, meta: dict, seed: int, dp_epsilon: float | None = None
) -> dict:
    work = folder / method
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    synthetic = work / "synthetic.csv"
    cmd = [bench_python, str(PEER), "generate", "--method", method, "--train", str(folder / "train.csv")]
    cmd += [
        "--rows",
        str(meta["train_rows"]),
        "--out",
        str(synthetic),
        "--workdir",
        str(work),
        "--seed",
        str(seed),
    ]
    if dp_epsilon is not None:
        cmd += ["--dp-epsilon", str(dp_epsilon)]
    rc, wall = run_logged(cmd, work / "run.log")
    res = last_json_line(work / "run.log") if rc == 0 else {}
    out: dict = {"process_wall_s": round(wall, 1), "exit_code": rc, "log": str(work / "run.log")}
    if rc != 0 or "seconds" not in res or not synthetic.exists():
        out["error"] = f"exit {rc}; log tail:\n{tail(work / 'run.log')}"
        out["wall_s"] = round(wall, 1)
        return out
    out["wall_s"] = res["seconds"]
    out["synthetic"] = str(synthetic)
    return out


def own_scores(folder: Path, synthetic: Path, target: str, seed: int) -> dict:
    """The project's own evaluation (SQS, DPS), same train/holdout for every generator."""
    import pandas as pd

    from safe_synthesizer.config.parameters import EvaluationParameters
    from safe_synthesizer.evaluation import evaluate

    def read(p: Path) -> pd.DataFrame:
        return pd.read_csv(p, keep_default_na=False, na_values=["", "NA", "NaN", "nan"], low_memory=False)

    start = time.perf_counter()
    result = evaluate(
        read(folder / "train.csv"),
        read(folder / "holdout.csv"),
        read(synthetic),
        EvaluationParameters(target_column=target),
        seed=seed,
    )
    return {"own_sqs": result.sqs, "own_dps": result.dps, "own_eval_s": round(time.perf_counter() - start, 1)}


def fmt(v, spec: str = ".3f", width: int = 8) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-".rjust(width)
    if isinstance(v, str):
        return v.rjust(width)
    return format(v, spec).rjust(width)


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def table(name: str, meta: dict, res: dict) -> str:
    gens = res["generators"]
    ref = gens.get("mostly", {})
    head = (
        f"{'generator':<22} {'wall s':>8} {'quality':>8} {'TSTR AUC':>8} {'DCR shr':>8} {'copies':>7} "
        f"{'own SQS':>8} {'own DPS':>8} {'Q/MOSTLY':>8} {'AUC/M':>8} {'time/M':>8}"
    )
    lines = [
        f"== {name}: {meta['source']} — {meta['rows_used']} of {meta['rows_total']} rows x {meta['columns']} "
        f"columns, train {meta['train_rows']} / holdout {meta['holdout_rows']}, target {meta['target']}",
        head,
        "-" * len(head),
    ]
    for g, r in gens.items():
        if "error" in r and "quality" not in r:
            lines.append(
                f"{LABELS.get(g, g):<22} {fmt(r.get('wall_s'), '.1f')}  FAILED: {r['error'].splitlines()[0]}"
            )
            continue
        lines.append(
            f"{LABELS.get(g, g):<22} {fmt(r.get('wall_s'), '.1f')} {fmt(r.get('quality'))} {fmt(r.get('tstr_auc'))} "
            f"{fmt(r.get('dcr_share'))} {fmt(r.get('exact_copies'), 'd', 7)} {fmt(r.get('own_sqs'), '.1f')} "
            f"{fmt(r.get('own_dps'), '.1f')} {fmt(ratio(r.get('quality'), ref.get('quality')), '.2f')} "
            f"{fmt(ratio(r.get('tstr_auc'), ref.get('tstr_auc')), '.2f')} "
            f"{fmt(ratio(r.get('wall_s'), ref.get('wall_s')), '.2f')}"
        )
    lines.append(
        f"real train split -> holdout TSTR AUC (reference): {fmt(res.get('real_train_auc'), '.3f', 0)}"
    )
    if res.get("tstr_classes_left_out"):
        lines.append(
            f"TSTR leaves out target classes with under {TSTR_MIN_CLASS_ROWS} training rows: "
            + ", ".join(res["tstr_classes_left_out"])
        )
    load = res.get("load_average_after")
    if load:
        lines.append(
            f"machine: {os.cpu_count()} CPUs, {THREADS} thread(s) per generator; load average (1/5/15 min) "
            f"after this dataset: {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (wall times are only "
            "comparable when nothing else runs)"
        )
    for key in ("ours", "ours_dp"):
        ours = gens.get(key)
        if ours and "cli_wall_s" in ours:
            lines.append(
                f"{LABELS[key]}: CLI wall {ours['cli_wall_s']} s (wall s above excludes its own evaluation "
                f"stage); its summary.json (own internal holdout): SQS {fmt(ours.get('summary_sqs'), '.1f', 0)}, "
                f"DPS {fmt(ours.get('summary_dps'), '.1f', 0)}"
                + (
                    f", epsilon spent {ours['epsilon_spent']}"
                    if ours.get("epsilon_spent") is not None
                    else ""
                )
            )
    if res.get("quality_excluded_columns"):
        lines.append(
            f"quality leaves out free-text/near-unique columns: {', '.join(res['quality_excluded_columns'])}"
        )
    lines.append(
        "quality: SDMetrics QualityReport (shapes+pair trends); DCR shr: share of synthetic rows nearer to "
        "train than to holdout (0.5 = no memorisation); copies: synthetic rows identical to a train row"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="all", choices=[*DATASETS, "all"])
    parser.add_argument(
        "--rows", type=int, default=None, help="subsample each table to N rows before splitting"
    )
    parser.add_argument("--skip", action="append", default=[], choices=SKIPPABLE, help="repeatable")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bench-python", default=str(DEFAULT_BENCH_PYTHON), help="the bench venv's python")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench-quality")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="score the synthetic tables of the previous run (results.json) again, without generating",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads for every generator (default: all)"
    )
    parser.add_argument(
        "--ours-timeout", type=float, default=None, help="seconds; ours counts as failed past it"
    )
    parser.add_argument(
        "--dp-epsilon",
        type=float,
        default=None,
        help="also run ours with differential privacy at this total epsilon (row 'ours (DP)')",
    )
    args = parser.parse_args(argv)
    if not Path(args.bench_python).exists():
        print(f"no bench venv at {args.bench_python}: run `make bench-quality-venv`", file=sys.stderr)
        return 2
    datasets = DATASETS if args.dataset == "all" else [args.dataset]
    generators = [g for g in ["ours", *PEERS] if g not in args.skip] + REFERENCES
    if args.dp_epsilon is not None:
        generators.insert(1 if "ours" in generators else 0, "ours_dp")
        LABELS["ours_dp"] = f"ours (DP eps={args.dp_epsilon:g})"
        if "mostly_dp" not in args.skip:  # the peer under the same total epsilon
            generators.insert(generators.index("ours_dp") + 1, "mostly_dp")
            LABELS["mostly_dp"] = f"MOSTLY (DP eps={args.dp_epsilon:g})"
    args.out.mkdir(parents=True, exist_ok=True)
    versions = json.loads(
        subprocess.run(
            [args.bench_python, str(PEER), "versions"], capture_output=True, text=True, check=True
        ).stdout
    )
    results: dict = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "threads": THREADS,
            "omp_wait_policy": THREAD_ENV["OMP_WAIT_POLICY"],
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "bench_venv_versions": versions,
        "datasets": {},
    }
    tables = []
    previous = {}
    if args.rescore:
        prior = json.loads((args.out / "results.json").read_text())
        previous = prior["datasets"]
        results["args"]["rescored_run"] = prior.get("args")
        results["machine"] = {**prior.get("machine", {}), "rescored_with_load_average": os.getloadavg()}
        results["datasets"] = dict(previous)  # those not rescored stay as they were
        datasets = [d for d in datasets if d in previous]
        generators = []
    for name in datasets:
        folder = args.out / name
        folder.mkdir(parents=True, exist_ok=True)
        if args.rescore:  # keep the split, the synthetic tables and their timings; score again
            log(f"{name}: rescoring the synthetic tables of the previous run")
            res = {"meta": previous[name]["meta"], "generators": {}}
            res["load_average_after"] = previous[name].get("load_average_after")
            for g, r in previous[name]["generators"].items():
                res["generators"][g] = {k: v for k, v in r.items() if k in KEPT_ON_RESCORE}
            meta = res["meta"]
        else:
            log(f"{name}: preparing the split")
            cmd = [args.bench_python, str(PEER), "prepare", "--dataset", name, "--out", str(folder)]
            cmd += ["--seed", str(args.seed)] + (["--rows", str(args.rows)] if args.rows else [])
            subprocess.run(cmd, check=True, env={**os.environ, **THREAD_ENV}, stdout=subprocess.DEVNULL)
            meta = json.loads((folder / "meta.json").read_text())
            res = {"meta": meta, "generators": {}}
        for g in generators:
            log(f"{name}: {g}: start (train {meta['train_rows']} rows, generate {meta['train_rows']})")
            if g == "ours":
                r = run_ours(folder, meta, args.ours_timeout)
            elif g == "ours_dp":
                r = run_ours(folder, meta, args.ours_timeout, dp_epsilon=args.dp_epsilon)
            else:
                dp_epsilon = args.dp_epsilon if g == "mostly_dp" else None
                r = run_peer(args.bench_python, g, folder, meta, args.seed, dp_epsilon)
            res["generators"][g] = r
            state = "FAILED: " + r["error"].splitlines()[0] if "error" in r else "done"
            log(f"{name}: {g}: {state} in {r.get('wall_s')} s")
        done = {g: r for g, r in res["generators"].items() if "synthetic" in r}
        log(f"{name}: independent scores (bench venv) for {', '.join(done)}")
        cmd = [
            args.bench_python,
            str(PEER),
            "score",
            "--dir",
            str(folder),
            "--out",
            str(folder / "scores.json"),
        ]
        for g, r in done.items():
            cmd += ["--synthetic", f"{g}={r['synthetic']}"]
        subprocess.run(cmd, check=True, env={**os.environ, **THREAD_ENV})
        scores = json.loads((folder / "scores.json").read_text())
        res["real_train_auc"] = scores.pop("real_train_auc")
        res["quality_excluded_columns"] = scores.pop("quality_excluded_columns")
        res["tstr_classes"] = scores.pop("tstr_classes", None)
        res["tstr_classes_left_out"] = scores.pop("tstr_classes_left_out", [])
        for g, s in scores.items():
            if g in res["generators"]:
                res["generators"][g].update(s)
        for g, r in done.items():
            log(f"{name}: own evaluation (SQS/DPS) of {g}")
            try:
                r.update(own_scores(folder, Path(r["synthetic"]), meta["target"], args.seed))
            except Exception as exc:  # report, keep going
                r["own_error"] = f"{type(exc).__name__}: {exc}"
        if not args.rescore:
            res["load_average_after"] = os.getloadavg()
        results["datasets"][name] = res
        tables.append(table(name, meta, res))
        print("\n" + tables[-1] + "\n", flush=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    if len(tables) > 1:
        print("\n\n".join(tables))
    log(f"results: {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
