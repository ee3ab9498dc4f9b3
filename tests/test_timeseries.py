"""Time-series mode: interval inference, the grid, the prepare/apply steps, the metric and one CLI run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from safe_synthesizer.errors import UserInputError
from safe_synthesizer.evaluation.time_series import (
    autocorrelation,
    time_series_metrics,
    time_series_similarity,
)
from safe_synthesizer.timeseries import (
    apply_time_series,
    format_timestamps,
    grid,
    grid_check,
    grid_is_valid,
    infer_interval,
    parse_timestamps,
    prepare_time_series,
)

RNG_SEEDS = range(25)


def _series_table(n_series: int = 3, length: int = 15, seed: int = 0, fmt: str = "%Y-%m-%d %H:%M:%S"):
    """AR(1) series ``x`` (different coefficients per series) and ``y`` following ``x``; hourly."""
    rng = np.random.default_rng(seed)
    rows = []
    for s, phi in zip("abcdefgh"[:n_series], (0.9, 0.7, 0.8, 0.6, 0.85, 0.75, 0.95, 0.65), strict=False):
        x = 0.0
        for i in range(length):
            x = phi * x + rng.normal()
            stamp = pd.Timestamp("2024-03-01") + pd.Timedelta(hours=i)
            rows.append(
                {
                    "sensor": s,
                    "ts": stamp.strftime(fmt),
                    "x": round(x, 3),
                    "y": round(0.5 * x + 0.3 * rng.normal(), 3),
                }
            )
    return pd.DataFrame(rows)


def _prepare(frame: pd.DataFrame, **overrides):
    kwargs = dict(
        column="ts",
        group_by="sensor",
        order_by=None,
        fmt=None,
        interval_seconds=None,
        start=None,
        stop=None,
        enforce=True,
    )
    kwargs.update(overrides)
    return prepare_time_series(frame, **kwargs)


# --- interval inference and the grid (pure functions, property-style over seeded random inputs) ---


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_inferred_interval_is_the_median_step_whatever_the_row_order(seed):
    rng = np.random.default_rng(seed)
    interval = float(rng.integers(1, 10_000))
    series = []
    for _ in range(int(rng.integers(1, 5))):
        steps = np.full(int(rng.integers(5, 30)), interval)
        steps[rng.random(len(steps)) < 0.2] *= 2  # a few gaps: the median ignores them
        stamps = float(rng.integers(0, 10**9)) + np.cumsum(steps)
        series.append(rng.permutation(stamps))  # unsorted input
    assert infer_interval(series) == interval


def test_interval_inference_ignores_duplicates_and_says_none_without_steps():
    assert infer_interval([np.array([0.0, 0.0, 60.0, 120.0, 120.0])]) == 60.0
    assert infer_interval([np.array([5.0]), np.array([7.0, 7.0])]) is None


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_grid_has_no_gaps_no_duplicates_and_respects_stop(seed):
    rng = np.random.default_rng(seed)
    start, interval, n = (
        float(rng.integers(-1000, 1000)),
        float(rng.integers(1, 100)),
        int(rng.integers(0, 60)),
    )
    stop = start + interval * float(rng.integers(0, 80)) if rng.random() < 0.5 else None
    values = grid(start, interval, n, stop)
    expected = n if stop is None else min(n, int(round((stop - start) / interval)) + 1)
    assert len(values) == expected
    if len(values):
        assert values[0] == start
        assert np.allclose(np.diff(values), interval)
        assert stop is None or values[-1] <= stop


def test_grid_refuses_a_non_positive_interval():
    with pytest.raises(ValueError):
        grid(0.0, 0.0, 3)


def test_timestamps_round_trip_in_their_own_format():
    frame = _series_table(1, 5, fmt="%d/%m/%Y %H:%M")
    seconds, kind, fmt = parse_timestamps(frame["ts"], "%d/%m/%Y %H:%M", "ts")
    assert kind == "datetime" and fmt == "%d/%m/%Y %H:%M"
    _, plan = _prepare(frame, fmt="%d/%m/%Y %H:%M")
    assert format_timestamps(seconds, plan) == frame["ts"].tolist()
    years, kind, _ = parse_timestamps(pd.Series([1970, 1971]), None, "year")
    assert kind == "numeric" and years.tolist() == [1970.0, 1971.0]


# --- prepare: order, plan, clear errors ---


def test_training_rows_are_sorted_by_series_then_parsed_time():
    # day/month format: sorting the raw text would put 02/01 before 01/02
    frame = _series_table(2, 40, fmt="%d/%m/%Y %H:%M").sample(frac=1, random_state=1)
    ordered, plan = _prepare(frame, fmt="%d/%m/%Y %H:%M")
    assert plan.interval == 3600.0 and plan.interval_source == "inferred" and plan.training_series == 2
    for _, group in ordered.groupby("sensor"):
        seconds, _, _ = parse_timestamps(group["ts"], "%d/%m/%Y %H:%M", "ts")
        assert np.all(np.diff(seconds) == 3600.0)
    assert _prepare(frame, interval_seconds=1800, fmt="%d/%m/%Y %H:%M")[1].interval_source == "config"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"column": None}, "time_series.timestamp_column"),
        ({"column": "when"}, "time_series.timestamp_column"),
        ({"fmt": "%Y/%m/%d"}, "time_series.timestamp_column"),  # unparseable with this format
        ({"order_by": "x"}, "data.order_training_examples_by"),
        ({"dp": True}, "time_series.timestamp_interval_seconds"),
        ({"start": "2024-03-02 00:00:00", "stop": "2024-03-01 00:00:00"}, "time_series.stop_timestamp"),
        ({"stop": "yesterday"}, "time_series.stop_timestamp"),
    ],
)
def test_bad_time_series_input_is_a_user_error_naming_the_field(overrides, field):
    with pytest.raises(UserInputError, match=field.replace(".", r"\.")):
        _prepare(_series_table(), **overrides)


def test_single_rows_cannot_give_an_interval():
    frame = _series_table(3, 1)
    with pytest.raises(UserInputError, match="timestamp_interval_seconds"):
        _prepare(frame)


# --- apply: grid enforced or generated timestamps sorted ---


def _generated(plan_frame: pd.DataFrame) -> pd.DataFrame:
    """What an LLM might write: two sequences of 'a' (a repeated key), broken timestamps."""
    return pd.DataFrame(
        {
            "sensor": ["a"] * 4 + ["b"] * 3 + ["a"] * 2,
            "ts": [
                "2024-03-01 05:00:00",
                "2024-03-01 05:00:00",  # duplicate
                "garbage",
                "2024-03-01 09:00:00",  # gap
                "2024-03-01 02:00:00",
                "2024-03-01 01:00:00",  # unsorted
                "2024-03-01 03:00:00",
                "2024-03-09 00:00:00",  # past stop
                "2024-03-09 01:00:00",
            ],
            "x": np.arange(9.0),
            "y": np.arange(9.0),
        }
    )


def test_enforced_grid_assigns_timestamps_and_truncates_at_stop():
    _, plan = _prepare(_series_table(), stop="2024-03-02 00:00:00")
    raw = _generated(_series_table())
    assert not grid_is_valid(grid_check(raw, plan))
    out, stats = apply_time_series(raw, plan)
    assert grid_is_valid(stats["grid"]) and grid_is_valid(grid_check(out, plan))
    assert stats["series_keys_relabelled"] == 1 and sorted(out["sensor"].unique()) == ["a", "b"]
    first = out[out["sensor"] == "a"]
    assert first["ts"].tolist() == [f"2024-03-01 0{h}:00:00" for h in range(5, 9)]
    assert first["x"].tolist() == [0.0, 1.0, 2.0, 3.0]  # records keep the order the model wrote them
    assert stats["series_dropped"] == 1  # the second 'a' starts after stop
    assert stats["rows_truncated_at_stop"] == 2


def test_start_timestamp_anchors_every_enforced_series():
    _, plan = _prepare(_series_table(), start="2024-03-01 00:00:00")
    out, _ = apply_time_series(_generated(_series_table()), plan)
    assert sorted(out["sensor"].unique()) == ["a", "a~2", "b"]  # a repeated key gets its own
    assert set(out.groupby("sensor")["ts"].first()) == {"2024-03-01 00:00:00"}


def test_without_enforcement_timestamps_are_kept_sorted_and_the_breaks_counted():
    _, plan = _prepare(_series_table(), enforce=False)
    out, stats = apply_time_series(_generated(_series_table()), plan)
    assert stats["rows_dropped_unparseable_timestamp"] == 1
    b = out[out["sensor"] == "b"]["ts"].tolist()
    assert b == sorted(b)
    assert stats["grid"]["duplicates"] == 1 and stats["grid"]["gaps"] >= 1
    assert not grid_is_valid(stats["grid"])


def test_integer_series_keys_are_relabelled_to_unused_integers():
    _, plan = _prepare(_series_table(), group_by=None)
    plan.group_by = "sensor"
    frame = pd.DataFrame({"sensor": [1, 1, 2, 1], "ts": ["2024-03-01 00:00:00"] * 4, "x": 0.0, "y": 0.0})
    out, stats = apply_time_series(frame, plan)
    assert out["sensor"].tolist() == [1, 1, 2, 3] and stats["series_keys_relabelled"] == 1


# --- the metric on known inputs ---


def test_autocorrelation_of_known_series():
    alternating = np.array([1.0, -1.0] * 10)
    acf = autocorrelation(alternating, 2)
    assert acf[0] == pytest.approx(-0.95) and acf[1] == pytest.approx(0.9)
    assert np.isnan(autocorrelation(np.ones(10), 3)).all()
    assert np.isnan(autocorrelation(np.arange(3.0), 5)[2:]).all()


def _similarity(train: pd.DataFrame, other: pd.DataFrame) -> dict:
    _, plan = _prepare(train)
    return time_series_metrics(train, None, other, plan=plan)["synthetic"]


def test_identical_series_score_one_and_shuffled_series_score_lower():
    train = _series_table(4, 60, seed=2)
    same = _similarity(train, train)
    assert same["autocorrelation_similarity"] == 1.0
    assert same["cross_correlation_similarity"] == 1.0
    assert same["interval_regularity"] == 1.0
    rng = np.random.default_rng(0)
    shuffled = train.copy()
    for _, rows in shuffled.groupby("sensor").groups.items():
        values = shuffled.loc[rows, ["x", "y"]].to_numpy()
        shuffled.loc[rows, ["x", "y"]] = values[rng.permutation(len(values))]
    score = _similarity(train, shuffled)
    assert score["autocorrelation_similarity"] < 0.95  # AR(1) lag-1 ACF ~0.8 lost; 0.90 measured
    assert score["cross_correlation_similarity"] == pytest.approx(1.0, abs=1e-9)  # rows kept whole
    decoupled = train.copy()
    decoupled["y"] = rng.permutation(decoupled["y"].to_numpy())
    assert _similarity(train, decoupled)["cross_correlation_similarity"] < 0.9


def _trend_table(n_series: int = 6, length: int = 30, seed: int = 3) -> pd.DataFrame:
    """Series that start low and climb (x) with noise; y independent noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_series):
        for i in range(length):
            stamp = pd.Timestamp("2024-03-01") + pd.Timedelta(hours=i)
            rows.append(
                {
                    "sensor": f"s{s}",
                    "ts": stamp.strftime("%Y-%m-%d %H:%M:%S"),
                    "x": round(i + rng.normal(), 3),
                    "y": round(rng.normal(), 3),
                }
            )
    return pd.DataFrame(rows)


def test_step_distributions_catch_a_series_run_backwards_that_the_acf_cannot_see():
    train = _trend_table()
    same = _similarity(train, train)
    assert same["step_distribution_similarity"] == 1.0
    assert same["step_distribution_by_step"] == [1.0] * 10  # 30 steps in 10 buckets
    reversed_in_time = train.copy()
    for _, rows in reversed_in_time.groupby("sensor").groups.items():
        reversed_in_time.loc[rows, ["x", "y"]] = reversed_in_time.loc[rows, ["x", "y"]].to_numpy()[::-1]
    score = _similarity(train, reversed_in_time)
    # the autocorrelation of a reversed series is the same, and so is every pooled marginal
    assert score["autocorrelation_similarity"] == pytest.approx(1.0, abs=1e-9)
    # x's level is wrong at the ends (y, noise, only differs by sampling): 0.34 measured
    assert score["step_distribution_similarity"] < 0.5
    curve = score["step_distribution_by_step"]
    assert curve[0] < 0.5 and curve[-1] < 0.5 and max(curve) > curve[0]


def test_step_distributions_use_the_training_deciles_and_ignore_steps_past_the_median_length():
    train = _trend_table(n_series=4, length=20)
    longer = pd.concat(
        [train, _trend_table(n_series=4, length=40, seed=8).assign(sensor=lambda f: f["sensor"] + "x")]
    )
    seconds, _, _ = parse_timestamps(longer["ts"], None, "ts")
    train_seconds, _, _ = parse_timestamps(train["ts"], None, "ts")
    common = {"columns": ["x", "y"], "group_by": "sensor", "interval": 3600.0}
    result = time_series_similarity(
        train, longer, train_seconds=train_seconds, other_seconds=seconds, **common
    )
    # the first 20 steps of the longer series follow the same trend: only the noise differs
    assert result["step_distribution_similarity"] > 0.8
    assert len(result["step_distribution_by_step"]) == 10


def test_interval_regularity_counts_off_grid_steps():
    train = _series_table(1, 5)
    seconds, _, _ = parse_timestamps(train["ts"], None, "ts")
    other_seconds = seconds.copy()
    other_seconds[-1] += 1800  # the last step is 1.5 intervals
    result = time_series_similarity(
        train,
        train,
        columns=["x"],
        train_seconds=seconds,
        other_seconds=other_seconds,
        group_by="sensor",
        interval=3600.0,
    )
    assert result["interval_regularity"] == 0.75


def test_holdout_reference_sits_beside_the_synthetic_figures():
    train, holdout = _series_table(3, 40, seed=1), _series_table(3, 40, seed=9)
    _, plan = _prepare(train)
    metrics = time_series_metrics(train, holdout, train, plan=plan)
    assert metrics["holdout"]["series"] == 3 and 0 < metrics["holdout"]["autocorrelation_similarity"] <= 1
    assert metrics["synthetic"]["autocorrelation_similarity"] == 1.0
    assert metrics["columns"] == ["x", "y"]


def test_report_has_a_time_series_section_only_in_time_series_mode():
    from safe_synthesizer.evaluation import EvaluationResult, render_report

    train = _series_table(3, 30)
    _, plan = _prepare(train)
    metrics = {"time_series": time_series_metrics(train, train, train, plan=plan)}
    html = render_report(EvaluationResult(sqs=None, dps=None, metrics=metrics), title="t")
    assert 'id="time-series"' in html and "Autocorrelation similarity" in html
    assert "Value distributions by step" in html and "Per-step value distributions" in html
    assert 'id="time-series"' not in render_report(EvaluationResult(None, None, {}), title="t")


# --- one CLI run on a 3-series table (tiny model, grammar-constrained: about 30 s on 2 cores) ---


def test_cli_run_keeps_the_grid_and_records_what_it_did(tmp_path: Path):
    from safe_synthesizer.cli import main as cli_main

    data = tmp_path / "series.csv"
    _series_table(3, 15).sample(frac=1, random_state=3).to_csv(data, index=False)
    config = {
        "enable_replace_pii": False,
        "evaluation": {"enabled": True},
        "data": {"holdout": 0, "random_state": 7, "group_training_examples_by": "sensor"},
        "time_series": {
            "is_timeseries": True,
            "timestamp_column": "ts",
            "stop_timestamp": "2024-03-01 10:00:00",
        },
        "training": {
            "pretrained_model": "builtin:tiny-llama",
            "num_input_records_to_sample": 45,
            "batch_size": 3,
            "gradient_accumulation_steps": 1,
            "learning_rate": 0.004,
        },
        "generation": {
            "num_records": 12,
            "temperature": 0.8,
            "use_structured_generation": True,
            "enforce_timeseries_fidelity": True,
            "validation": {"group_by_accept_no_delineator": True, "group_by_ignore_invalid_records": True},
        },
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    code = cli_main(
        [
            "run",
            "--device",
            "cpu",
            "--config",
            str(config_path),
            "--data-source",
            str(data),
            "--output",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    ts = summary["time_series"]
    assert ts["interval_source"] == "inferred" and ts["interval_seconds"] == 3600.0
    assert ts["stop"] == "2024-03-01 10:00:00" and ts["prefill"].startswith("none")
    assert grid_is_valid(ts["generated"]["grid"])
    assert not [w for w in summary["warnings"] if w.startswith("time_series")]
    synthetic = pd.read_csv(out / "synthetic_data.csv")
    _, plan = _prepare(_series_table(3, 15), stop="2024-03-01 10:00:00")
    assert len(synthetic) and grid_is_valid(grid_check(synthetic, plan))
    assert synthetic.groupby("sensor").size().max() <= 11  # 00:00 .. 10:00
    metrics = json.loads((out / "evaluation_metrics.json").read_text())
    assert metrics["time_series"]["synthetic"]["interval_regularity"] in (1.0, None)
    assert 'id="time-series"' in (out / "evaluation_report.html").read_text()


def test_generation_reports_group_sizes_so_adjacent_groups_with_one_key_stay_apart():
    from safe_synthesizer.config import GenerateParameters
    from safe_synthesizer.generation.records import parse_sequence
    from safe_synthesizer.schema import infer_schema
    from safe_synthesizer.timeseries import series_blocks

    schema = infer_schema(pd.DataFrame({"g": ["a", "b"] * 60, "t": [1, 2, 3] * 40, "v": [1.5, 2.5] * 60}))
    sizes: list[int] = []
    text = "a|1|1.5\na|2|2.5\n\na|1|1.5\n\nb|1|2.5\nb|2|1.5\nb|3|1.5\n\n"
    records, _ = parse_sequence(text, schema, GenerateParameters(), "g", None, sizes)
    assert sizes == [2, 1, 3] and len(records) == 6
    frame = pd.DataFrame(records)
    assert [len(b) for b in series_blocks(frame, "g", sizes)] == [2, 1, 3]
    assert [len(b) for b in series_blocks(frame, "g")] == [3, 3]  # without sizes: runs of one key
    assert [len(b) for b in series_blocks(frame, "g", [2, 2])] == [3, 3]  # sizes that do not fit: runs


def test_grouped_record_grammar_closes_every_group_before_eos():
    """Structured generation of groups: walks through the grouped grammar end with a closed group,
    every line is a valid record, and the record cap holds across groups."""
    import random

    from safe_synthesizer.config import GenerateParameters
    from safe_synthesizer.generation.grammar import RecordGrammar
    from safe_synthesizer.generation.records import parse_sequence
    from safe_synthesizer.schema import infer_schema

    schema = infer_schema(_series_table(3, 20))
    grammar = RecordGrammar(schema, max_records=6, grouped=True)
    rng = random.Random(3)
    blank_lines = 0
    for _ in range(60):
        out = b""
        for _ in range(5000):
            allowed, eos_ok = grammar.allowed(out)
            if eos_ok and (not allowed or rng.random() < 0.3):
                break
            ends = [b for b in allowed if b in (ord("|"), ord("\n"))]
            out += bytes([rng.choice(ends) if ends and rng.random() < 0.3 else rng.choice(allowed)])
        text = out.decode("utf-8", errors="replace")
        assert text.endswith("\n\n"), "EOS before the group was closed"
        lines = text.split("\n")[:-1]
        assert 1 <= sum(1 for line in lines if line) <= 6
        blank_lines += lines.count("")
        sizes: list[int] = []
        records, reasons = parse_sequence(
            text,
            schema,
            GenerateParameters.model_validate({"validation": {"group_by_fix_non_unique_value": True}}),
            "sensor",
            None,
            sizes,
        )
        assert reasons == [] and sum(sizes) == len(records) == sum(1 for line in lines if line)
    assert blank_lines > 60  # several walks hold more than one group


def test_grouped_record_regex_needs_closed_groups():
    import re

    from safe_synthesizer.generation.record_regex import record_regex
    from safe_synthesizer.schema import infer_schema
    from safe_synthesizer.serialization import encode_records

    frame = _series_table(2, 3)
    schema = infer_schema(frame)
    lines = encode_records(frame, schema)
    pattern = re.compile(record_regex(schema, 1, grouped=True))
    closed = "\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n\n"
    assert pattern.fullmatch(closed)
    assert not pattern.fullmatch("\n".join(lines) + "\n")  # no blank line: the group is not closed


def test_raw_series_statistics_stay_out_of_the_plan_under_dp():
    frame = _series_table(3, 12)
    _, plain = _prepare(frame)
    assert plain.longest_series == 12 and plain.fallback_start is not None
    _, private = _prepare(frame, dp=True, interval_seconds=3600)
    assert private.longest_series is None and private.fallback_start is None
