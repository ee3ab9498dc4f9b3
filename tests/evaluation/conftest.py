"""Fixtures for the evaluation tests."""

from __future__ import annotations

import pandas as pd
import pytest
from evaluation_tables import population

from safe_synthesizer.config.parameters import EvaluationParameters


@pytest.fixture(scope="session")
def tables() -> dict[str, pd.DataFrame]:
    """train (1200), holdout (600) and an independent 'good synthetic' sample (1200)."""
    return {"train": population(1200, 1), "holdout": population(600, 2), "fresh": population(1200, 3)}


@pytest.fixture
def config() -> EvaluationParameters:
    """Default evaluation parameters."""
    return EvaluationParameters()
