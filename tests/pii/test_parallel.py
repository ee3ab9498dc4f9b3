"""Pseudonyms computed in forked workers are exactly the ones computed in one process."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from pii_helpers import KEY

from safe_synthesizer.config.replace_pii import PiiReplacerConfig
from safe_synthesizer.pii import parallel, replace_pii
from safe_synthesizer.pii.detect import classify_columns
from safe_synthesizer.pii.pseudonym import Pseudonymizer

pytestmark = pytest.mark.skipif(
    "fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork"
)


def test_prefill_memoises_what_one_process_computes(labelled_df: pd.DataFrame) -> None:
    detections = classify_columns(labelled_df, PiiReplacerConfig().globals)
    pairs = parallel.structured_values(labelled_df, detections)
    assert len(pairs) > 1000 and len({e for e, _ in pairs}) >= 10
    forked = Pseudonymizer(KEY)
    assert parallel.prefill_pseudonyms(labelled_df, detections, forked, workers=3, min_values=0) == len(pairs)
    assert all(forked.is_memoised(e, v) for e, v in pairs)
    serial = Pseudonymizer(KEY)
    for entity, value in pairs:  # the memo holds the one-process answers, value by value
        assert forked.replace_text(entity, value) == serial.replace_text(entity, value)


def test_replace_pii_output_is_the_same_with_workers(
    labelled_df: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SAFE_SYNTH_PII_WORKERS", "1")
    one = replace_pii(labelled_df, PiiReplacerConfig(), key=KEY).data
    monkeypatch.setenv("SAFE_SYNTH_PII_WORKERS", "2")
    monkeypatch.setattr(parallel, "MIN_VALUES", 0)
    with caplog.at_level(logging.INFO, logger="safe_synthesizer.pii"):
        two = replace_pii(labelled_df, PiiReplacerConfig(), key=KEY).data
    assert "pseudonymised in parallel" in caplog.text
    pd.testing.assert_frame_equal(one, two)
    assert not one.equals(labelled_df)


def test_small_tables_and_one_worker_stay_in_process(labelled_df: pd.DataFrame) -> None:
    detections = classify_columns(labelled_df, PiiReplacerConfig().globals)
    pseudo = Pseudonymizer(KEY)
    assert parallel.prefill_pseudonyms(labelled_df, detections, pseudo, workers=2) == 0  # < MIN_VALUES
    assert parallel.prefill_pseudonyms(labelled_df, detections, pseudo, workers=1, min_values=0) == 0


def test_worker_count_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFE_SYNTH_PII_WORKERS", "3")
    assert parallel.worker_count() == 3
    monkeypatch.setenv("SAFE_SYNTH_PII_WORKERS", "many")
    assert parallel.worker_count() == 1
    monkeypatch.delenv("SAFE_SYNTH_PII_WORKERS")
    assert 1 <= parallel.worker_count() <= parallel.MAX_WORKERS


def test_worker_count_leaves_busy_cores_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFE_SYNTH_PII_WORKERS", raising=False)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda _pid: set(range(4)), raising=False)
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert parallel.worker_count() == 4
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (2.0, 2.0, 2.0))
    assert parallel.worker_count() == 3
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert parallel.worker_count() == 1
    monkeypatch.setenv("SAFE_SYNTH_PII_WORKERS", "2")  # the setting wins over the load
    assert parallel.worker_count() == 2
