"""examples/minimal.yaml: the cost note's CPU/cap snippet is a valid spec, with the fields it names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from safe_synthesizer.config import ConfigError, SafeSynthesizerJob, parse_document

MINIMAL = Path(__file__).resolve().parents[1] / "examples" / "minimal.yaml"
MARKER = "add to spec:"


def _snippet(text: str) -> dict:
    """The commented YAML block after MARKER (lines of '#   ...'), as a mapping."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#") and line.rstrip().endswith(MARKER))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        block.append(line[4:])
    assert block, "no snippet after the marker"
    return yaml.safe_load("\n".join(block))


def test_minimal_cost_snippet_validates():
    text = MINIMAL.read_text()
    doc = yaml.safe_load(text)
    snippet = _snippet(text)
    assert not set(snippet) & set(doc["spec"]), "the snippet adds to spec, it does not override"
    job = parse_document({**doc, "spec": {**doc["spec"], **snippet}}, str(MINIMAL))
    assert isinstance(job, SafeSynthesizerJob)
    assert job.spec.resources.gpu == 0
    assert job.spec.config.training.max_training_minutes == 10
    # The example itself keeps the defaults: a GPU is requested unless the snippet is added.
    assert parse_document(doc, str(MINIMAL)).spec.resources.gpu == 1


def test_a_misspelt_snippet_field_is_refused():
    text = MINIMAL.read_text().replace("max_training_minutes", "max_train_minutes")
    doc = yaml.safe_load(text)
    with pytest.raises(ConfigError, match="max_train_minutes"):
        parse_document({**doc, "spec": {**doc["spec"], **_snippet(text)}}, str(MINIMAL))
