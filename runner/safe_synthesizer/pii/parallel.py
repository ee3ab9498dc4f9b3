"""Use every core for the pseudonyms of large tables: fill the pseudonymizer's memo in worker processes.

A pseudonym is a deterministic function of the job key, the entity, the original value and the
persons registered before replacement (keyed HMAC streams, fixed Faker pools, seeded Fakers), and
:class:`~.pseudonym.Pseudonymizer` memoises it per ``(entity, value)``. So the distinct string values
of the detected structured PII columns can be computed in forked workers (each inherits the
pseudonymizer as it is after the persons were registered) and merged into the parent's memo: the
rule engine then finds every value memoised and the output is identical to the one-process run
(tested). Only Linux-style ``fork`` is used (no pickling of the pseudonymizer); anywhere else, for
small tables, or when ``SAFE_SYNTH_PII_WORKERS=1``, nothing happens. A failure in a worker only loses
the speed-up: the engine computes what is missing.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from .columns import ColumnDetection
from .pseudonym import Pseudonymizer

logger = logging.getLogger("safe_synthesizer.pii")

MIN_VALUES = 20_000  # below this, forking costs more than it saves
MAX_WORKERS = 8

# Set in forked workers only (by the pool initializer): the parent's pseudonymizer and the work list.
_worker_state: tuple[Pseudonymizer, list[tuple[str, str]]] | None = None


def worker_count() -> int:
    """Processes to use: ``SAFE_SYNTH_PII_WORKERS`` if set, else the CPUs this process may run on
    that other work leaves idle (one-minute load average), at least one: on a saturated machine
    the forked workers only add their own overhead (measured: 21 s instead of 17 s on 2 busy cores)."""
    configured = os.environ.get("SAFE_SYNTH_PII_WORKERS", "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            logger.warning("SAFE_SYNTH_PII_WORKERS=%r is not an integer; using 1", configured)
            return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available: assume idle
        load = 0.0
    idle = 1 + round(max(0.0, cpus - load))  # this process counts in the load once it has run a while
    return max(1, min(cpus, MAX_WORKERS, idle))


def structured_values(df: pd.DataFrame, detections: dict[str, ColumnDetection]) -> list[tuple[str, str]]:
    """Distinct ``(entity, value)`` string pairs of the detected structured PII columns."""
    pairs: dict[tuple[str, str], None] = {}
    for column, detection in detections.items():
        if not detection.entity or detection.free_text:
            continue
        for value in pd.unique(df[column].to_numpy(dtype=object)):
            if type(value) is str and value.strip():
                pairs[(detection.entity, value)] = None
    return list(pairs)


def _init_worker(pseudo: Pseudonymizer, pairs: list[tuple[str, str]]) -> None:
    global _worker_state  # noqa: PLW0603 - per-process state of a forked worker, set once
    _worker_state = (pseudo, pairs)


def _pseudonyms_of_share(share: int, shares: int) -> list[str]:
    assert _worker_state is not None
    pseudo, pairs = _worker_state
    return [pseudo.replace_text(entity, value) for entity, value in pairs[share::shares]]


def prefill_pseudonyms(
    df: pd.DataFrame,
    detections: dict[str, ColumnDetection],
    pseudo: Pseudonymizer,
    *,
    workers: int | None = None,
    min_values: int | None = None,
) -> int:
    """Memoise the pseudonyms of the structured PII values using ``workers`` processes.

    The parent computes one share itself while ``workers - 1`` forked children compute the others.
    Returns the number of values memoised in parallel (0 when it did not run).
    """
    workers = worker_count() if workers is None else workers
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 0
    pairs = [(e, v) for e, v in structured_values(df, detections) if not pseudo.is_memoised(e, v)]
    if len(pairs) < (MIN_VALUES if min_values is None else min_values):
        return 0
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=workers - 1, mp_context=context, initializer=_init_worker, initargs=(pseudo, pairs)
        ) as pool:
            futures = {
                share: pool.submit(_pseudonyms_of_share, share, workers) for share in range(1, workers)
            }
            own = [pseudo.replace_text(entity, value) for entity, value in pairs[0::workers]]
            pseudo.memoise(pairs[0::workers], own)
            for share, future in futures.items():
                pseudo.memoise(pairs[share::workers], future.result())
    except Exception as exc:  # noqa: BLE001 - only the speed-up is lost; the engine computes the rest
        logger.warning(
            "replace_pii: parallel pseudonyms unavailable (%s); continuing in one process", type(exc).__name__
        )
        return 0
    return len(pairs)
