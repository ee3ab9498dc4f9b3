"""Shared fixtures of the PII tests: the labelled fixture and one default-plan run over it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pii_helpers import KEY, RecordingProgress

from safe_synthesizer.config.replace_pii import PiiReplacerConfig
from safe_synthesizer.pii import PiiResult, replace_pii

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def labelled_df() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "pii_labelled.csv")


@pytest.fixture(scope="session")
def labels() -> dict[str, Any]:
    return json.loads((FIXTURES / "pii_labels.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def default_run(labelled_df: pd.DataFrame) -> tuple[PiiResult, RecordingProgress, pd.DataFrame]:
    """The default plan over the labelled fixture (run once; tests only read it)."""
    before = labelled_df.copy(deep=True)
    progress = RecordingProgress()
    result = replace_pii(labelled_df, PiiReplacerConfig(), key=KEY, progress=progress)
    return result, progress, before


@pytest.fixture()
def people() -> pd.DataFrame:
    """A small frame with persons, contact data, a grouping column and a note."""
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c1", "c3"],
            "first_name": ["John", "Mary", "John", "Ana"],
            "last_name": ["Smith", "Jones", "Smith", "Lopez"],
            "full_name": ["John Smith", "Mary Jones", "John Smith", "Ana Lopez"],
            "email": ["john.smith@gmail.com", "mjones@acme-corp.com", "john.smith@gmail.com", None],
            "phone": ["(212) 555-0143", "+1-415-555-0199x12", "212.555.0143", "646-555-0101"],
            "ssn": ["536-90-4399", "219-09-9999", "536-90-4399", "078-12-3456"],
            "visit_date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"],
            "amount": [1.5, 2.5, 3.5, 4.5],
            "note": [
                "Spoke with John Smith, reachable at john.smith@gmail.com or (212) 555-0143.",
                "Mary Jones asked to change the card to 4111 1111 1111 1111 today.",
                "John Smith called again about the refund for his order.",
                "Nothing personal in this note at all, just a reminder.",
            ],
        }
    )
