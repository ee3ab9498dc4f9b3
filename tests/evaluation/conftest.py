"""Fixtures for the evaluation tests: small tables drawn from one known population."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safe_synthesizer.config.parameters import EvaluationParameters

WORDS = ["the", "patient", "reported", "mild", "pain", "after", "surgery", "and", "was", "discharged", "home", "today", "with", "follow", "up", "advice", "on", "diet", "rest", "exercise", "medication", "review", "next", "week", "by", "the", "clinic", "team"]


def population(n: int, seed: int) -> pd.DataFrame:
    """``n`` independent rows of a population with correlated numeric and categorical columns."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.8 * x + 0.6 * rng.normal(size=n)
    group = np.where(x + 0.5 * rng.normal(size=n) > 0, "high", "low")
    colour = rng.choice(["red", "green", "blue", "cyan"], n, p=[0.4, 0.3, 0.2, 0.1])
    age = np.clip(np.round(40 + 12 * y + rng.normal(0, 5, n)), 18, 90).astype(int)
    income = np.round(np.exp(10 + 0.3 * x + rng.normal(0, 0.5, n)), 2)
    return pd.DataFrame({"x": x, "y": y, "group": group, "colour": colour, "age": age, "income": income})


def with_text(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Adds a free-text column whose length follows ``x``."""
    rng = np.random.default_rng(seed)
    notes = []
    for v in df["x"].to_numpy():
        k = int(np.clip(8 + 3 * v, 5, 20))
        notes.append(" ".join(rng.choice(WORDS, k)) + ". " + " ".join(rng.choice(WORDS, 5)) + ".")
    return df.assign(notes=notes)


@pytest.fixture(scope="session")
def tables() -> dict[str, pd.DataFrame]:
    """train (1200), holdout (600) and an independent 'good synthetic' sample (1200)."""
    return {"train": population(1200, 1), "holdout": population(600, 2), "fresh": population(1200, 3)}


@pytest.fixture
def config() -> EvaluationParameters:
    """Default evaluation parameters."""
    return EvaluationParameters()
