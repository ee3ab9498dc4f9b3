"""Time-series mode: series, order, the timestamp grid, and what generation must keep.

With ``time_series.is_timeseries: true`` and a ``time_series.timestamp_column``:

* **Series.** ``data.group_training_examples_by`` is the series key (several series in one table;
  one group is one training sequence). Without it the whole table is one series; the records are
  then modelled one at a time (no sequence is learned) and only the order and the grid are kept.
* **Order.** Training rows are sorted by (series, parsed timestamp); the timestamp is the order
  (``data.order_training_examples_by`` must be unset or name the timestamp column).
* **Parsing.** ``timestamp_format``: a strftime format, or ``elapsed_seconds`` (numbers). Unset: a
  numeric column holds elapsed seconds (any unit of its own: years stay years, the "interval" is
  then 1), text is parsed with the format pandas guesses from the first value. Datetimes are read
  and written in UTC.
* **Interval.** ``timestamp_interval_seconds``, or inferred: the median positive step between
  consecutive timestamps within series of the training split (``interval_source`` in summary.json).
  Under DP the interval must be given (inferring it reads the raw data).
* **Grid.** With ``generation.enforce_timeseries_fidelity: true`` every generated series gets the
  timestamps ``start + i × interval`` (i = 0, 1, …) in the order the model wrote its records, so
  there are no gaps and no duplicates; ``start`` is ``start_timestamp`` when set, else the series'
  first parseable generated timestamp, else (no parseable one) the median start of the training
  series (``fallback_start``; not under DP, where such a series is dropped); a series that would run
  past ``stop_timestamp`` is truncated there.
  With it off (the default) the generated timestamps are kept as generated, rows whose timestamp
  cannot be parsed are dropped and each series is sorted by its timestamps; summary.json counts the
  gaps, duplicates and out-of-range rows (:func:`grid_check`) and warns when there are any.
* **No prefill.** Generation is never seeded with real rows (NeMo prefills each series with its
  first three training records, which copies training data into the output).
* **Repeated series keys.** The LLM writes series keys it learned; when two generated sequences use
  the same key, the later one gets the key with ``~2``, ``~3``… (text keys) or the next unused
  integer (integer keys), so every series in the output has its own key.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import UserInputError

ELAPSED = "elapsed_seconds"
NUMERIC = "numeric"
DATETIME = "datetime"
_TOLERANCE = 1e-6  # relative: two steps are equal when they differ by less than this x interval


@dataclass
class TimeSeriesPlan:
    """What time-series mode does in one run (``summary.json`` ``time_series``)."""

    column: str
    group_by: str | None
    kind: str  # numeric | datetime
    output_format: str | None  # strftime format of datetime output (None for numeric)
    interval: float  # seconds (numeric: the column's own unit)
    interval_source: str  # config | inferred (median step within training series)
    start: float | None
    stop: float | None
    enforce: bool
    training_series: int
    fallback_start: float | None = None  # median training series start (None under DP)
    longest_series: int | None = None  # records in the longest training series (None under DP)

    def to_summary(self) -> dict[str, Any]:
        """The plan as summary.json shows it (timestamps formatted as in the data)."""
        out = asdict(self)
        out["start"] = None if self.start is None else format_timestamps([self.start], self)[0]
        out["stop"] = None if self.stop is None else format_timestamps([self.stop], self)[0]
        if self.fallback_start is not None:
            out["fallback_start"] = format_timestamps([self.fallback_start], self)[0]
        out["interval_seconds"] = out.pop("interval")
        out["prefill"] = "none: generation is never seeded with real rows"
        return out


def _field_error(field: str, problem: str, fix: str) -> UserInputError:
    return UserInputError(f"config.time_series.{field}: {problem}; {fix}")


def parse_timestamps(values: pd.Series, fmt: str | None, column: str) -> tuple[np.ndarray, str, str | None]:
    """Timestamps as float seconds (NaN where unparseable), their kind and the datetime format used.

    ``fmt``: a strftime format, ``elapsed_seconds`` or None (numeric columns are elapsed seconds;
    text is parsed with the format guessed from the first non-empty value).
    """
    if fmt == ELAPSED or (fmt is None and pd.api.types.is_numeric_dtype(values)):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), NUMERIC, None
    text = values.astype("string")
    if fmt is None:
        from pandas.tseries.api import guess_datetime_format

        first = text.dropna()
        fmt = guess_datetime_format(str(first.iloc[0])) if len(first) else None
        if fmt is None:
            numbers = pd.to_numeric(values, errors="coerce")
            if numbers.notna().sum() == values.notna().sum() and values.notna().any():
                return numbers.to_numpy(dtype=float), NUMERIC, None
            raise _field_error(
                "timestamp_column",
                f"the values of column {column!r} are not timestamps in a format that can be guessed",
                "set time_series.timestamp_format to their strftime format (e.g. '%Y-%m-%d %H:%M') or "
                "'elapsed_seconds' for numbers",
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=True)
    seconds = np.full(len(values), np.nan)
    ok = parsed.notna().to_numpy()
    seconds[ok] = parsed[ok].astype("int64").to_numpy() / 1e9
    return seconds, DATETIME, fmt


def format_timestamps(seconds: Any, plan: TimeSeriesPlan) -> list[Any]:
    """Float seconds back to the data's representation (numbers stay numbers, integers integers)."""
    values = [float(s) for s in seconds]
    if plan.kind == NUMERIC:
        if all(v.is_integer() for v in values):
            return [int(v) for v in values]
        return values
    stamps = pd.to_datetime(pd.Series(values, dtype=float) * 1e9, unit="ns", utc=True)
    return [t.strftime(plan.output_format or "%Y-%m-%d %H:%M:%S") for t in stamps]


def infer_interval(series: list[np.ndarray]) -> float | None:
    """The median positive step between consecutive (sorted) timestamps within series; None if none."""
    steps = [np.diff(np.sort(s[~np.isnan(s)])) for s in series]
    positive = np.concatenate([d[d > 0] for d in steps]) if steps else np.array([])
    return float(np.median(positive)) if len(positive) else None


def grid(start: float, interval: float, n: int, stop: float | None = None) -> np.ndarray:
    """``start + i × interval`` for i < n, truncated to the values not after ``stop``."""
    if interval <= 0 or not math.isfinite(interval):
        raise ValueError("interval must be a positive finite number")
    values = start + interval * np.arange(max(n, 0), dtype=float)
    if stop is not None:
        values = values[values <= stop + _TOLERANCE * interval]
    return values


def _series_arrays(frame: pd.DataFrame, seconds: np.ndarray, group_by: str | None) -> list[np.ndarray]:
    if not group_by:
        return [seconds]
    codes = pd.factorize(frame[group_by], sort=False)[0]
    return [seconds[codes == c] for c in range(codes.max() + 1)] if len(codes) else []


def _bound(value: str | int | None, name: str, fmt: str | None, kind: str, column: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and kind == DATETIME:
        return float(value)  # epoch seconds
    parsed, _, _ = parse_timestamps(pd.Series([value]), fmt if kind == DATETIME else ELAPSED, column)
    if np.isnan(parsed[0]):
        raise _field_error(
            name,
            f"{value!r} does not parse like the timestamps of column {column!r}",
            f"write it in the column's format ({fmt or 'a number'})",
        )
    return float(parsed[0])


def prepare_time_series(
    train: pd.DataFrame,
    *,
    column: str | None,
    group_by: str | None,
    order_by: str | None,
    fmt: str | None,
    interval_seconds: float | None,
    start: str | int | None,
    stop: str | int | None,
    enforce: bool,
    dp: bool = False,
) -> tuple[pd.DataFrame, TimeSeriesPlan]:
    """Check the timestamp column, sort the training rows by (series, time) and plan the grid.

    Raises :class:`UserInputError` naming the config field for a missing or unparseable timestamp
    column, a conflicting order column, an interval that cannot be inferred (or must not be, under DP)
    and a stop before the start.
    """
    if not column:
        raise _field_error(
            "timestamp_column",
            "time-series mode needs the column that holds the timestamps",
            "name it in time_series.timestamp_column (numbers are read as elapsed seconds)",
        )
    if column not in train.columns:
        raise _field_error(
            "timestamp_column",
            f"column {column!r} is not in the data",
            f"name one of: {', '.join(map(str, train.columns[:30]))}",
        )
    if order_by and order_by != column:
        raise UserInputError(
            f"config.data.order_training_examples_by is {order_by!r} but in time-series mode the order is "
            f"the timestamp ({column!r}); remove data.order_training_examples_by or set it to {column!r}"
        )
    seconds, kind, used_format = parse_timestamps(train[column], fmt, column)
    bad = int(np.isnan(seconds).sum())
    if bad:
        raise _field_error(
            "timestamp_column",
            f"{bad} of {len(train)} training rows have a missing or unparseable timestamp in column "
            f"{column!r} (format {used_format or fmt or 'numeric'})",
            "set time_series.timestamp_format to the values' strftime format, or fill or drop those rows",
        )
    keys = [group_by, "__ts__"] if group_by else ["__ts__"]
    ordered = train.assign(__ts__=seconds).sort_values(keys, kind="stable")
    ordered_seconds = ordered["__ts__"].to_numpy()
    ordered = ordered.drop(columns="__ts__").reset_index(drop=True)
    series = _series_arrays(ordered, ordered_seconds, group_by)
    if interval_seconds is not None:
        interval, source = float(interval_seconds), "config"
    else:
        if dp:
            raise _field_error(
                "timestamp_interval_seconds",
                "under differential privacy the interval cannot be inferred (that reads the raw data)",
                "set time_series.timestamp_interval_seconds",
            )
        inferred = infer_interval(series)
        if inferred is None:
            raise _field_error(
                "timestamp_interval_seconds",
                "the interval cannot be inferred: no series has two different timestamps",
                "set time_series.timestamp_interval_seconds",
            )
        interval, source = inferred, "inferred"
    start_s = _bound(start, "start_timestamp", used_format, kind, column)
    stop_s = _bound(stop, "stop_timestamp", used_format, kind, column)
    if start_s is not None and stop_s is not None and stop_s < start_s:
        raise _field_error("stop_timestamp", "it is before start_timestamp", "swap or correct them")
    plan = TimeSeriesPlan(
        column=column,
        group_by=group_by,
        kind=kind,
        output_format=used_format if kind == DATETIME else None,
        interval=interval,
        interval_source=source,
        start=start_s,
        stop=stop_s,
        enforce=enforce,
        training_series=len(series),
        fallback_start=None if dp else float(np.median([s[0] for s in series if len(s)])),
        longest_series=None if dp else max(len(s) for s in series),
    )
    return ordered, plan


def series_blocks(
    frame: pd.DataFrame, group_by: str | None, sizes: list[int] | None = None
) -> list[np.ndarray]:
    """Row positions of each generated series: the groups generation reported (``sizes``: records
    per group, in order), else runs of consecutive rows with the same key, or the whole frame
    without a key."""
    if not group_by or not len(frame):
        return [np.arange(len(frame))] if len(frame) else []
    if sizes and sum(sizes) == len(frame) and min(sizes) > 0:
        ends = np.cumsum(sizes)
        return [np.arange(end - size, end) for size, end in zip(sizes, ends, strict=True)]
    keys = frame[group_by].astype("string").fillna("\x00<NA>").to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    return [np.arange(a, b) for a, b in zip(starts, ends, strict=True)]


def _relabel(keys: list[Any]) -> tuple[list[Any], int]:
    """Unique keys for blocks: a repeated key gets ``~2``, ``~3``… (integers: the next unused one)."""
    seen: dict[str, int] = {}
    used = {str(k) for k in keys}
    integers = [int(k) for k in keys if isinstance(k, int | np.integer) and not isinstance(k, bool)]
    next_int = (max(integers) + 1) if integers else 0
    out, relabelled = [], 0
    for key in keys:
        text = str(key)
        seen[text] = seen.get(text, 0) + 1
        if seen[text] == 1:
            out.append(key)
            continue
        relabelled += 1
        if isinstance(key, int | np.integer) and not isinstance(key, bool):
            while str(next_int) in used:
                next_int += 1
            new: Any = next_int
        else:
            n = seen[text]
            while f"{text}~{n}" in used:
                n += 1
            new = f"{text}~{n}"
        used.add(str(new))
        out.append(new)
    return out, relabelled


def apply_time_series(
    synthetic: pd.DataFrame, plan: TimeSeriesPlan, group_sizes: list[int] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Give generated series unique keys, then the grid (enforced) or their own sorted timestamps.

    ``group_sizes``: records per generated group (see :func:`series_blocks`). Returns the new frame
    and the counts for summary.json (never values)."""
    blocks = series_blocks(synthetic, plan.group_by, group_sizes)
    seconds, _, _ = parse_timestamps(synthetic[plan.column], _parse_format(plan), plan.column)
    keys: list[Any] = []
    if plan.group_by:
        keys, relabelled = _relabel([synthetic[plan.group_by].iloc[b[0]] for b in blocks])
    else:
        relabelled = 0
    pieces: list[pd.DataFrame] = []
    dropped_unparseable = truncated = dropped_series = 0
    for index, rows in enumerate(blocks):
        block = synthetic.iloc[rows].copy()
        ts = seconds[rows]
        ok = ~np.isnan(ts)
        if plan.enforce:
            start = (
                plan.start
                if plan.start is not None
                else (float(ts[ok][0]) if ok.any() else plan.fallback_start)
            )
            if start is None:
                dropped_series += 1
                continue
            stamps = grid(start, plan.interval, len(block), plan.stop)
            truncated += len(block) - len(stamps)
            block = block.iloc[: len(stamps)]
            if not len(block):
                dropped_series += 1
                continue
            block[plan.column] = format_timestamps(stamps, plan)
        else:
            dropped_unparseable += int((~ok).sum())
            block = block.iloc[np.flatnonzero(ok)[np.argsort(ts[ok], kind="stable")]]
            if not len(block):
                dropped_series += 1
                continue
        if plan.group_by:
            block[plan.group_by] = [keys[index]] * len(block)
        pieces.append(block)
    out = pd.concat(pieces, ignore_index=True) if pieces else synthetic.iloc[:0].copy()
    stats: dict[str, Any] = {
        "series_generated": len(blocks),
        "series_kept": len(pieces),
        "series_keys_relabelled": relabelled,
        "series_dropped": dropped_series,
        "rows_truncated_at_stop": truncated,
        "rows_dropped_unparseable_timestamp": dropped_unparseable,
        "timestamps": "assigned from the grid" if plan.enforce else "as generated, sorted within series",
    }
    stats["grid"] = grid_check(out, plan)
    return out, stats


def _parse_format(plan: TimeSeriesPlan) -> str:
    if plan.kind == DATETIME:
        return plan.output_format or "%Y-%m-%d %H:%M:%S"
    return ELAPSED


def grid_check(frame: pd.DataFrame, plan: TimeSeriesPlan) -> dict[str, int]:
    """Grid validity of a table's series (by key; sorted): steps, gaps (a step longer than the
    interval), duplicates (a step of 0), off-grid steps (any other step not equal to the interval),
    out-of-range rows (before start or after stop) and unparseable timestamps."""
    seconds, _, _ = parse_timestamps(frame[plan.column], _parse_format(plan), plan.column)
    tol = _TOLERANCE * plan.interval
    steps = gaps = duplicates = off_grid = 0
    for ts in _series_arrays(frame, seconds, plan.group_by):
        diffs = np.diff(np.sort(ts[~np.isnan(ts)]))
        steps += len(diffs)
        duplicates += int((np.abs(diffs) <= tol).sum())
        gaps += int((diffs > plan.interval + tol).sum())
        off_grid += int(((diffs > tol) & (diffs < plan.interval - tol)).sum())
    valid = seconds[~np.isnan(seconds)]
    out_of_range = 0
    if plan.start is not None:
        out_of_range += int((valid < plan.start - tol).sum())
    if plan.stop is not None:
        out_of_range += int((valid > plan.stop + tol).sum())
    return {
        "rows": len(frame),
        "steps": steps,
        "gaps": gaps,
        "duplicates": duplicates,
        "off_grid": off_grid,
        "out_of_range": out_of_range,
        "unparseable": int(np.isnan(seconds).sum()),
    }


def grid_is_valid(check: dict[str, int]) -> bool:
    """No gaps, duplicates, off-grid steps, out-of-range rows or unparseable timestamps."""
    return not any(check[k] for k in ("gaps", "duplicates", "off_grid", "out_of_range", "unparseable"))
