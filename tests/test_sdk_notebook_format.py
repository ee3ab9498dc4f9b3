"""docs/sdk-quickstart.ipynb is a valid notebook whose code cells compile, with one ``parameters``
cell (the cluster test ``tests/operator/test_sdk_notebook.py`` runs it for real)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "sdk-quickstart.ipynb"


def test_quickstart_notebook_is_valid_and_compiles() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert len(code) >= 6
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "NAMESPACE" in parameters[0].source
    for index, cell in enumerate(code):
        ast.parse(cell.source, f"sdk-quickstart.ipynb cell {index}")
        assert not cell.get("outputs"), "commit the notebook without outputs (they may hold data)"
    source = "\n".join(c.source for c in code)
    for call in ("SafeSynthesizerJobBuilder", ".wait(", "results.list()", "to_pandas()", "delete("):
        assert call in source, call
