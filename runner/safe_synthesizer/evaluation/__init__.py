"""Evaluation of synthetic data: quality (SQS), privacy (DPS), PII replay, utility and the HTML report.

One metric per module, each module's docstring states its formula:

* quality: :mod:`.column_distribution`, :mod:`.correlation`, :mod:`.deep_structure`,
  :mod:`.text_semantic`, :mod:`.text_structure`, aggregated by :mod:`.sqs`;
* privacy: :mod:`.membership_inference`, :mod:`.attribute_inference`, aggregated by :mod:`.dps`;
  :mod:`.dcr` (DCR share, exact copies) and :mod:`.pii_replay` beside it;
* :mod:`.utility` (train-synthetic-test-real), :mod:`.grading` (scales and grades);
* :mod:`.time_series` (time-series mode only: autocorrelation, cross-correlation, interval regularity);
* :func:`evaluate` runs everything, :func:`render_report` writes the self-contained HTML report.
"""

from .core import EvaluationResult, evaluate
from .pii_replay import PiiReplayInput
from .report import render_report

__all__ = ["EvaluationResult", "PiiReplayInput", "evaluate", "render_report"]
