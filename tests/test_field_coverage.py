"""Every config field does something, or says it does nothing.

Walks :class:`SafeSynthesizerParameters` recursively; a field passes when its name is read in
``runner/safe_synthesizer`` outside ``config/`` (an attribute access ``.name`` or the string
``"name"``, found with the AST, so docstrings and comments do not count) or when it is declared in
:data:`safe_synthesizer.accepted_only.ACCEPTED_ONLY` with a reason. Deprecated older forms
(``exclude=True``) are folded into their new fields by the validators and are skipped.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, create_model

from safe_synthesizer.accepted_only import ACCEPTED_ONLY, accepted_only_warnings
from safe_synthesizer.config import SafeSynthesizerParameters
from safe_synthesizer.config.base import Parameters
from safe_synthesizer.config.parameters import GenerateParameters

PACKAGE = Path(__file__).resolve().parents[1] / "runner" / "safe_synthesizer"
# the declaration module names every accepted-only field: reading its own list is not wiring
NOT_WIRING = {PACKAGE / "accepted_only.py"}


def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def config_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, typing.Any]]:
    """(dotted path, name, FieldInfo) of every field, nested sections included (lists, dicts, unions)."""
    found = []
    for name, info in model.model_fields.items():
        if info.exclude:  # a deprecated older form, normalised into its new field on load
            continue
        path = prefix + name
        found.append((path, name, info))
        for sub in _models_in(info.annotation):
            found.extend(config_fields(sub, path + "."))
    return found


def names_read_outside_config() -> set[str]:
    """Attribute names accessed, and string constants used, by the package outside ``config/``."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "config" in path.relative_to(PACKAGE).parts or path in NOT_WIRING:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
                names.add(node.value)
    return names


def unwired_fields(root: type[BaseModel], read: set[str]) -> list[str]:
    """Fields neither read outside config/ nor declared accepted-only."""
    return [path for path, name, _ in config_fields(root) if name not in read and path not in ACCEPTED_ONLY]


@pytest.fixture(scope="module")
def read() -> set[str]:
    return names_read_outside_config()


def test_every_field_is_read_or_declared_accepted_only(read):
    missing = unwired_fields(SafeSynthesizerParameters, read)
    assert not missing, (
        f"config fields read by nothing outside config/: {missing}. Wire them, or declare them in "
        "safe_synthesizer.accepted_only.ACCEPTED_ONLY with the reason they cannot act"
    )


def test_a_new_unwired_field_fails_the_check(read):
    """The check itself can fail: a section with a field nobody reads is reported, nested or not."""
    section = create_model(
        "Extra", __base__=Parameters, frobnicate_level=(int, Field(3, description="read by nothing"))
    )
    root = create_model(
        "Root",
        __base__=SafeSynthesizerParameters,
        extra_section=(section, Field(default_factory=section)),
        flux_capacity=(float, Field(1.0)),
    )
    assert unwired_fields(root, read) == ["extra_section", "extra_section.frobnicate_level", "flux_capacity"]


def test_accepted_only_declarations_are_real_and_not_stale(read):
    """Each declared path exists; a field that is now read must leave the accepted-only list."""
    paths = {path: name for path, name, _ in config_fields(SafeSynthesizerParameters)}
    unknown = sorted(set(ACCEPTED_ONLY) - set(paths))
    assert not unknown, f"ACCEPTED_ONLY names fields that do not exist: {unknown}"
    stale = sorted(path for path in ACCEPTED_ONLY if paths[path] in read)
    assert not stale, f"declared accepted-only but read outside config/ (remove from ACCEPTED_ONLY): {stale}"


def test_accepted_only_fields_say_so_in_their_description():
    """The description (and so the CRD and README) tells users the field has no effect."""
    infos = {path: info for path, _, info in config_fields(SafeSynthesizerParameters)}
    silent = [path for path in ACCEPTED_ONLY if "no effect" not in (infos[path].description or "").lower()]
    assert not silent, f"description does not say 'no effect': {silent}"


def test_warning_only_when_set_to_a_non_default_value():
    assert accepted_only_warnings(SafeSynthesizerParameters()) == []
    explicit_defaults = SafeSynthesizerParameters.model_validate(
        {"generation": {"attention_backend": "auto", "structured_generation_backend": "auto"}}
    )
    assert accepted_only_warnings(explicit_defaults) == []
    unsloth_off = SafeSynthesizerParameters.model_validate({"training": {"use_unsloth": False}})
    assert accepted_only_warnings(unsloth_off) == []

    params = SafeSynthesizerParameters.model_validate(
        {
            "training": {"use_unsloth": True},
            "generation": {
                "attention_backend": "FLASHINFER",
                "structured_generation_schema_method": "json_schema",
            },
            "time_series": {
                "is_timeseries": True,
                "timestamp_column": "ts",
                "timestamp_interval_seconds": 60,
            },
        }
    )
    warned = {w.split(":")[0] for w in accepted_only_warnings(params)}
    assert warned == {  # time-series fields act now (timeseries.py): no warning
        "training.use_unsloth",
        "generation.attention_backend",
        "generation.structured_generation_schema_method",
    }


def test_warning_reaches_the_run_summary(tmp_path):
    """The pipeline puts the warnings into summary.json (replace-only run: no training needed)."""
    import json

    import pandas as pd

    from safe_synthesizer.pipeline import RunOptions, run_pipeline

    data = tmp_path / "in.csv"
    pd.DataFrame({"a": range(20), "b": ["x", "y"] * 10}).to_csv(data, index=False)
    params = SafeSynthesizerParameters.model_validate(
        {
            "enable_synthesis": False,
            "replace_pii": None,
            "generation": {"attention_backend": "FLASH_ATTN"},
        }
    )
    out = tmp_path / "out"
    run_pipeline(params, RunOptions(data_source=str(data), output=str(out)))
    summary = json.loads((out / "summary.json").read_text())
    assert any(w.startswith("generation.attention_backend: 'FLASH_ATTN'") for w in summary["warnings"])


def test_generation_section_is_walked():
    """Sanity: the walk reaches nested sections (generation.validation.*)."""
    paths = [p for p, _, _ in config_fields(GenerateParameters)]
    assert "validation.group_by_accept_no_delineator" in paths


def test_llm_only_fields_are_warned_about_with_the_field_token_engine():
    from safe_synthesizer.accepted_only import llm_only_warnings

    assert llm_only_warnings(SafeSynthesizerParameters(), "field_tokens") == []
    same_as_default = SafeSynthesizerParameters.model_validate({"training": {"attn_implementation": "auto"}})
    assert llm_only_warnings(same_as_default, "field_tokens") == []
    params = SafeSynthesizerParameters.model_validate(
        {"training": {"attn_implementation": "eager", "rope_scaling_factor": 2, "batch_size": 4}}
    )
    (warning,) = llm_only_warnings(params, "field_tokens")
    assert warning.startswith("training.rope_scaling_factor, training.attn_implementation: no effect")
