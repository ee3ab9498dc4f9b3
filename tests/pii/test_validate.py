"""validate_pii_config: errors with their config path, warnings, and the fixture generator's determinism."""

from __future__ import annotations

import hashlib
from pathlib import Path

import faker
import pytest
from pii_helpers import config
from pydantic import ValidationError

from safe_synthesizer.config.replace_pii import PiiReplacerConfig
from safe_synthesizer.pii import PiiConfigError, validate_pii_config


def _rules(*update: dict) -> dict:
    return {"steps": [{"rows": {"update": list(update)}}]}


def _error(data: dict) -> PiiConfigError:
    with pytest.raises(PiiConfigError) as info:
        validate_pii_config(config(data))
    return info.value


def test_valid_configs_pass() -> None:
    assert validate_pii_config(PiiReplacerConfig()) == []
    seeds = _rules(
        {"entity": ["email", "phone_number"], "value": "column.entity | fake"},
        {"name": "full_name", "value": "fake.name()"},
        {"condition": "column.free_text and not (this | isna)", "value": "this | fake_entities"},
        {"name": "x", "value": "{{ this | hash(length=8) }}-{{ index }}"},
    )
    assert validate_pii_config(config(seeds)) == []


def test_unknown_filter_with_path() -> None:
    error = _error(_rules({"name": "a", "value": "this"}, {"name": "b", "value": "column.entity | fakee"}))
    assert error.errors == [
        "replace_pii.steps[0].rows.update[1].value: unknown filter 'fakee'; did you mean 'fake'?"
    ]
    assert isinstance(error, ValueError)
    assert str(error).startswith("replace_pii.steps[0].rows.update[1].value: unknown filter 'fakee'")


def test_malformed_template() -> None:
    error = _error(_rules({"name": "a", "value": "this |"}))
    assert error.errors[0].startswith("replace_pii.steps[0].rows.update[0].value: malformed template")
    error = _error(_rules({"name": "a", "value": "{{ this "}))
    assert "malformed template" in error.errors[0]
    error = _error(_rules({"name": "a", "condition": "this ==", "value": "1"}))
    assert error.errors[0].startswith("replace_pii.steps[0].rows.update[0].condition: malformed template")


def test_unknown_faker_method() -> None:
    error = _error(_rules({"name": "a", "value": "fake.nmae()"}))
    assert error.errors == [
        "replace_pii.steps[0].rows.update[0].value: unknown Faker method 'nmae'; did you mean 'name'?"
    ]
    error = _error(_rules({"name": "a", "value": "'phone_numbr' | fake"}))
    assert "unknown Faker method 'phone_numbr'" in error.errors[0]
    error = _error(_rules({"name": "a", "value": "fake.seed_instance(3)"}))
    assert "unknown Faker method 'seed_instance'" in error.errors[0]


def test_locale_specific_faker_method() -> None:
    both = {"globals": {"locales": ["en_US", "de_DE"]}, **_rules({"name": "a", "value": "fake.ssn()"})}
    assert validate_pii_config(config(both)) == []  # ssn exists in both locales; state_abbr only in en_US
    error = _error(
        {"globals": {"locales": ["en_US", "de_DE"]}, **_rules({"name": "a", "value": "fake.state_abbr()"})}
    )
    assert "unknown Faker method 'state_abbr' for locale de_DE" in error.errors[0]


def test_unknown_locale() -> None:
    with pytest.raises(ValidationError, match="unknown locale"):
        config({"globals": {"locales": ["xx_YY"]}})
    # a model built without validation (e.g. model_construct) is still checked
    cfg = PiiReplacerConfig()
    object.__setattr__(cfg.globals, "locales", ["en_US", "en_UX"])
    with pytest.raises(PiiConfigError, match=r"replace_pii\.globals\.locales\[1\]: unknown locale 'en_UX'"):
        validate_pii_config(cfg)


def test_every_error_at_once_and_other_places() -> None:
    error = _error(
        {
            "steps": [
                {
                    "vars": {"v": "{{ data | nope }}"},
                    "columns": {"add": [{"name": "n", "value": "this | bad"}]},
                    "rows": {
                        "update": [{"name": "a", "value": "fake.zzz()"}],
                        "drop": [{"condition": "this |"}],
                    },
                }
            ]
        }
    )
    paths = [e.split(":")[0] for e in error.errors]
    assert paths == [
        "replace_pii.steps[0].vars.v",
        "replace_pii.steps[0].columns.add[0].value",
        "replace_pii.steps[0].rows.update[0].value",
        "replace_pii.steps[0].rows.drop[0].condition",
    ]


def test_warnings() -> None:
    warnings = validate_pii_config(
        config(
            {
                "steps": [
                    {
                        "rows": {
                            "update": [
                                {"entity": "emial", "value": "this | label_entities"},
                                {"type": "txt", "value": "this"},
                            ],
                            "drop": [{"name": "x"}],
                        }
                    }
                ]
            }
        )
    )
    text = "\n".join(warnings)
    assert "unknown entity 'emial'" in text and "did you mean 'email'" in text
    assert "unknown column type 'txt'" in text
    assert "label_entities keeps the original values" in text
    assert "rows.drop[0]: no condition" in text


def test_fixture_regenerates_identically(tmp_path: Path) -> None:
    """The committed fixture is what the seeded generator writes (same Faker version)."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "make_pii_fixture", root / "scripts" / "make_pii_fixture.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import json

    labels = json.loads((root / "tests/pii/fixtures/pii_labels.json").read_text())
    if labels["generator"]["faker_version"] != faker.VERSION:
        pytest.skip("fixture generated with another Faker version")
    csv_path, labels_path = module.write(tmp_path, labels["generator"]["rows"], labels["generator"]["seed"])
    for new, committed in ((csv_path, "pii_labelled.csv"), (labels_path, "pii_labels.json")):
        digest = hashlib.sha256(new.read_bytes()).hexdigest()
        assert digest == hashlib.sha256((root / "tests/pii/fixtures" / committed).read_bytes()).hexdigest()


def test_holdout_generator_is_deterministic_across_processes() -> None:
    """The held-out set is the same in every run (Python's hash seed must not leak into it)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = (
        "import hashlib, json, sys; sys.path.insert(0, 'scripts'); import make_pii_holdout as h;"
        "df, labels = h.table(h.DEV_SEED, rows=150); texts, spans = h.texts(h.DEV_SEED, n=40);"
        "print(hashlib.sha256((df.to_csv() + json.dumps([labels, texts, spans])).encode()).hexdigest())"
    )
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=root
        )
        digests.add(done.stdout)
    assert len(digests) == 1
