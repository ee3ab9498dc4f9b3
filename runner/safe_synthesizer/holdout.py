"""Split the input into training records and a holdout set for evaluation (``config.data``).

Semantics follow NeMo Safe Synthesizer's ``data`` section:

* ``holdout``: a ratio in (0, 1) of the rows, a count >= 1, or 0 for no holdout; ``max_holdout``
  caps it (``max_holdout: 0`` also disables it). The size is rounded down.
* A holdout needs at least :data:`MIN_ROWS_FOR_HOLDOUT` (200) input rows and must hold at least
  :data:`MIN_HOLDOUT` (10) records; otherwise a :class:`HoldoutError` says which setting to change.
* ``random_state`` seeds the split; ``null`` uses :data:`DEFAULT_SEED` (42). The seed used is in
  :class:`HoldoutInfo`, so every run can be reproduced.
* With ``group_training_examples_by`` whole groups go to one side (all events of one user stay
  together), and the holdout size is as close to the target as whole groups allow, never above
  ``max_holdout``.

The same data, parameters and seed always give the same split. Both sides keep the input's row
order and get a fresh 0..n-1 index.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .autoconfig import DEFAULT_SEED  # the one default seed of the run
from .config.parameters import DataParameters
from .errors import UserInputError

MIN_HOLDOUT = 10
MIN_ROWS_FOR_HOLDOUT = 200
_MAX_ROWS_LISTED = 5

SeedSource = Literal["argument", "random_state", "default"]


class HoldoutError(UserInputError):
    """The holdout cannot be made as configured."""


@dataclass(frozen=True)
class HoldoutInfo:
    """What the split did; goes into ``summary.json`` (no data values)."""

    seed: int
    seed_source: SeedSource
    holdout_setting: float
    max_holdout: int
    target_rows: int
    holdout_rows: int
    train_rows: int
    group_by: str | None = None
    holdout_groups: int | None = None
    train_groups: int | None = None

    @property
    def enabled(self) -> bool:
        """True when records were held out."""
        return self.holdout_rows > 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**asdict(self), "enabled": self.enabled}


# --------------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------------


def holdout_enabled(data: DataParameters) -> bool:
    """True unless ``holdout`` or ``max_holdout`` is 0."""
    return data.holdout > 0 and data.max_holdout > 0


def min_rows_required(data: DataParameters) -> tuple[int, str]:
    """The fewest input rows the configuration accepts, and why (for :func:`~safe_synthesizer.data_io.load_table`)."""
    if holdout_enabled(data):
        return MIN_ROWS_FOR_HOLDOUT, (
            "the holdout for evaluation and privacy metrics needs at least "
            f"{MIN_ROWS_FOR_HOLDOUT} rows; set config.data.holdout to 0 to run without it"
        )
    return 1, ""


def resolve_seed(data: DataParameters, seed: int | None = None) -> tuple[int, SeedSource]:
    """The seed to use: ``seed`` if given, else ``data.random_state``, else :data:`DEFAULT_SEED`."""
    if seed is not None:
        return int(seed), "argument"
    if data.random_state is not None:
        return int(data.random_state), "random_state"
    return DEFAULT_SEED, "default"


def holdout_size(n_rows: int, holdout: float, max_holdout: int) -> int:
    """Target number of holdout rows: ratio or count, capped by ``max_holdout``, rounded down.

    Raises :class:`HoldoutError` when a holdout is requested but comes out below :data:`MIN_HOLDOUT`.
    """
    if holdout <= 0 or max_holdout <= 0:
        return 0
    wanted = n_rows * holdout if holdout < 1 else holdout
    size = min(math.floor(wanted + 1e-9), max_holdout)
    if size < MIN_HOLDOUT:
        how = f"{holdout:g} x {n_rows} rows" if holdout < 1 else f"holdout {holdout:g}"
        if max_holdout < MIN_HOLDOUT:
            how = f"max_holdout {max_holdout}"
        raise HoldoutError(
            f"config.data: the holdout would have {size} record(s) ({how}); it needs at least {MIN_HOLDOUT}. "
            "Increase config.data.holdout (or max_holdout), or set holdout to 0 to disable it"
        )
    if size >= n_rows:
        raise HoldoutError(
            f"config.data.holdout: holding out {size} of {n_rows} rows would leave none for training; "
            "lower config.data.holdout or max_holdout"
        )
    return size


def _rows_text(positions: np.ndarray) -> str:
    shown = ", ".join(str(int(p) + 1) for p in positions[:_MAX_ROWS_LISTED])
    return shown + (", ..." if len(positions) > _MAX_ROWS_LISTED else "")


def choose_groups(sizes: np.ndarray, target: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Pick groups (indices into ``sizes``) for the holdout: about ``target`` rows, never above ``cap``.

    Groups are visited in a seeded random order; a group is taken when it fits under ``cap`` and
    brings the total closer to ``target`` (or the total is still below :data:`MIN_HOLDOUT`). At least
    one group is always left for training.
    """
    chosen: list[int] = []
    taken = 0
    for index in rng.permutation(len(sizes)):
        if taken >= target or len(chosen) == len(sizes) - 1:
            break
        size = int(sizes[index])
        if taken + size > cap:
            continue
        closer = abs(taken + size - target) < abs(taken - target)
        if closer or taken < MIN_HOLDOUT:
            chosen.append(int(index))
            taken += size
    return np.array(sorted(chosen), dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------------------------------


def _check_group_column(df: pd.DataFrame, column: str) -> None:
    if column not in df.columns:
        shown = ", ".join(repr(str(c)) for c in list(df.columns)[:20])
        raise HoldoutError(
            f"config.data.group_training_examples_by: column {column!r} is not in the input "
            f"(columns: {shown}); fix the name or remove the setting"
        )
    missing = np.flatnonzero(df[column].isna().to_numpy())
    if len(missing):
        raise HoldoutError(
            f"config.data.group_training_examples_by: column {column!r} is empty in {len(missing)} row(s) "
            f"(data rows {_rows_text(missing)}); fill those values or drop those rows"
        )


def split_holdout(
    df: pd.DataFrame,
    data: DataParameters,
    seed: int | None = None,
    *,
    min_rows: int = MIN_ROWS_FOR_HOLDOUT,
) -> tuple[pd.DataFrame, pd.DataFrame, HoldoutInfo]:
    """Split ``df`` into ``(train_df, holdout_df, info)`` as ``data`` says; ``df`` is not modified.

    ``seed`` overrides ``data.random_state`` (see :func:`resolve_seed`). Without a holdout,
    ``holdout_df`` is an empty frame with the same columns. ``min_rows`` is the fewest input rows a
    holdout accepts (NeMo: 200).
    """
    used_seed, source = resolve_seed(data, seed)
    group_by = data.group_training_examples_by
    n_rows = len(df)
    if group_by is not None:
        _check_group_column(df, group_by)

    def info(
        target: int, holdout_rows: int, holdout_groups: int | None, train_groups: int | None
    ) -> HoldoutInfo:
        return HoldoutInfo(
            seed=used_seed,
            seed_source=source,
            holdout_setting=float(data.holdout),
            max_holdout=data.max_holdout,
            target_rows=target,
            holdout_rows=holdout_rows,
            train_rows=n_rows - holdout_rows,
            group_by=group_by,
            holdout_groups=holdout_groups,
            train_groups=train_groups,
        )

    if not holdout_enabled(data):
        groups = int(df[group_by].nunique()) if group_by is not None else None
        empty = df.iloc[0:0].reset_index(drop=True)
        return df.reset_index(drop=True), empty, info(0, 0, None if groups is None else 0, groups)

    if n_rows < min_rows:
        raise HoldoutError(
            f"the input has {n_rows} rows; a holdout needs at least {min_rows}. Add rows, or set "
            "config.data.holdout to 0 to run without a holdout (and without holdout-based privacy metrics)"
        )
    target = holdout_size(n_rows, data.holdout, data.max_holdout)
    rng = np.random.default_rng(used_seed)

    if group_by is None:
        mask = np.zeros(n_rows, dtype=bool)
        mask[rng.permutation(n_rows)[:target]] = True
        holdout_groups = train_groups = None
    else:
        codes, uniques = pd.factorize(df[group_by], sort=False)
        sizes = np.bincount(codes, minlength=len(uniques))
        if len(uniques) < 2:
            raise HoldoutError(
                f"config.data.group_training_examples_by: column {group_by!r} has a single group; a grouped "
                "holdout needs at least 2 groups. Set config.data.holdout to 0 or group by another column"
            )
        cap = min(data.max_holdout, n_rows - 1)
        chosen = choose_groups(sizes, target, cap, rng)
        taken = int(sizes[chosen].sum()) if len(chosen) else 0
        if taken < MIN_HOLDOUT:
            raise HoldoutError(
                f"config.data: cannot hold out at least {MIN_HOLDOUT} records with whole groups of {group_by!r} "
                f"(target {target}, limit max_holdout={data.max_holdout}, smallest group {int(sizes.min())} "
                f"records); raise config.data.max_holdout or set config.data.holdout to 0"
            )
        mask = np.isin(codes, chosen)
        holdout_groups, train_groups = len(chosen), len(uniques) - len(chosen)

    train_df = df.iloc[np.flatnonzero(~mask)].reset_index(drop=True)
    holdout_df = df.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    return train_df, holdout_df, info(target, int(mask.sum()), holdout_groups, train_groups)


__all__ = [
    "DEFAULT_SEED",
    "MIN_HOLDOUT",
    "MIN_ROWS_FOR_HOLDOUT",
    "HoldoutError",
    "HoldoutInfo",
    "choose_groups",
    "holdout_enabled",
    "holdout_size",
    "min_rows_required",
    "resolve_seed",
    "split_holdout",
]
