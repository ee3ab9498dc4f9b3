"""Tables for the evaluation tests, drawn from one known population (imported by conftest and tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

WORDS = [
    "the",
    "patient",
    "reported",
    "mild",
    "pain",
    "after",
    "surgery",
    "and",
    "was",
    "discharged",
    "home",
    "today",
    "with",
    "follow",
    "up",
    "advice",
    "on",
    "diet",
    "rest",
    "exercise",
    "medication",
    "review",
    "next",
    "week",
    "by",
    "the",
    "clinic",
    "team",
]


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
