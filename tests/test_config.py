"""The job config: NeMo parity, older forms, cross-field rules and error messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from safe_synthesizer.cli import main as cli_main
from safe_synthesizer.config import ConfigError, SafeSynthesizerJob, SafeSynthesizerParameters, parse_document

ROOT = Path(__file__).resolve().parents[1]

# The reference parameter table (seed-parameters-reference-v1), row by row: (section, field, default).
REFERENCE_TABLE = [
    (None, "enable_synthesis", True),
    (None, "enable_replace_pii", True),
    ("data", "group_training_examples_by", None),
    ("data", "order_training_examples_by", None),
    ("data", "max_sequences_per_example", "auto"),
    ("data", "holdout", 0.05),
    ("data", "max_holdout", 2000),
    ("data", "random_state", None),
    ("training", "num_input_records_to_sample", "auto"),
    ("training", "batch_size", 1),
    ("training", "gradient_accumulation_steps", 8),
    ("training", "weight_decay", 0.01),
    ("training", "warmup_ratio", 0.05),
    ("training", "lr_scheduler", "cosine"),
    ("training", "learning_rate", 0.0005),
    ("training", "lora_r", 32),
    ("training", "lora_alpha_over_r", 1.0),
    ("training", "lora_target_modules", ["q_proj", "k_proj", "v_proj", "o_proj"]),
    ("training", "use_unsloth", "auto"),
    ("training", "rope_scaling_factor", "auto"),
    ("training", "validation_ratio", 0.0),
    ("training", "validation_steps", 15),
    ("training", "pretrained_model", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"),
    ("training", "quantize_model", False),
    ("training", "quantization_bits", 8),
    ("training", "peft_implementation", "QLORA"),
    ("training", "max_vram_fraction", 0.8),
    ("generation", "num_records", 1000),
    ("generation", "temperature", 0.9),
    ("generation", "repetition_penalty", 1.0),
    ("generation", "top_p", 1.0),
    ("generation", "patience", 3),
    ("generation", "invalid_fraction_threshold", 0.8),
    ("generation", "use_structured_generation", False),
    ("generation", "structured_generation_backend", "auto"),
    ("generation", "structured_generation_schema_method", "regex"),
    ("generation", "enforce_timeseries_fidelity", False),
    ("privacy", "dp_enabled", False),
    ("privacy", "epsilon", 8.0),
    ("privacy", "delta", "auto"),
    ("privacy", "per_sample_max_grad_norm", 1.0),
    ("evaluation", "mia_enabled", True),
    ("evaluation", "aia_enabled", True),
    ("evaluation", "sqs_report_columns", 250),
    ("evaluation", "sqs_report_rows", 5000),
    ("evaluation", "mandatory_columns", None),
    ("evaluation", "enabled", True),
    ("evaluation", "quasi_identifier_count", 3),
    ("evaluation", "pii_replay_enabled", True),
    ("evaluation", "pii_replay_entities", None),
    ("evaluation", "pii_replay_columns", None),
    ("replace_pii", "steps", None),
]

ALLOWED = {
    ("training", "quantization_bits"): ([4, 8], [2, 16]),
    ("generation", "structured_generation_backend"): (
        ["auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer"],
        ["vllm", ""],
    ),
    ("generation", "structured_generation_schema_method"): (["regex", "json_schema"], ["auto"]),
}


def _section(params: SafeSynthesizerParameters, name: str | None):
    if name == "privacy":
        return parse_document({"privacy": {}}).privacy
    return params if name is None else getattr(params, name)


@pytest.mark.parametrize(("section", "field", "default"), REFERENCE_TABLE)
def test_reference_table_default(section, field, default):
    params = SafeSynthesizerParameters()
    value = getattr(_section(params, section), field)
    assert value == default, f"{section}.{field} default {value!r} != reference {default!r}"


@pytest.mark.parametrize(("key", "values"), list(ALLOWED.items()))
def test_allowed_values(key, values):
    section, field = key
    good, bad = values
    for value in good:
        parse_document({section: {field: value}})
    for value in bad:
        with pytest.raises(ConfigError) as info:
            parse_document({section: {field: value}})
        assert info.value.errors[0].path == f"{section}.{field}"


def test_unknown_field_suggests_nearest():
    with pytest.raises(ConfigError) as info:
        parse_document({"training": {"lora_rank": 8}, "generaton": {}})
    messages = {e.path: e.message for e in info.value.errors}
    assert "did you mean 'lora_r'" in messages["training.lora_rank"]
    assert "did you mean 'generation'" in messages["generaton"]


def test_five_planted_errors_all_reported(tmp_path, capsys):
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        """
apiVersion: safesynthesizer.io/v1alpha1
kind: SafeSynthesizerJob
metadata: {name: bad}
spec:
  dataSource: s3://b/data.xlsx
  output: s3://b/out/
  config:
    training: {lora_r: -3, quantization_bits: 5}
    generation: {temperatur: 0.5}
    data: {order_training_examples_by: ts}
"""
    )
    assert cli_main(["validate", str(manifest)]) == 1
    out = capsys.readouterr().out
    assert "INVALID (5 error(s))" in out
    assert "spec.config.training.lora_r: must be > 0, got -3" in out
    assert "spec.config.training.quantization_bits: must be one of 4 or 8, got 5" in out
    assert "spec.config.generation.temperatur: unknown field; did you mean 'temperature'?" in out
    assert "spec.config.data: order_training_examples_by requires group_training_examples_by" in out
    assert "spec.dataSource: dataSource must end in one of .csv, .jsonl, .json, .parquet" in out


def test_examples_validate(capsys):
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))
    assert len(examples) >= 4
    assert cli_main(["validate", *examples]) == 0
    out = capsys.readouterr().out
    assert out.count(": OK") >= len(examples)


def test_multi_document_yaml(tmp_path, capsys):
    path = tmp_path / "multi.yaml"
    path.write_text(
        "generation: {num_records: 10}\n---\ntraining: {lora_r: 0}\n---\n"
        "apiVersion: safesynthesizer.io/v1alpha1\nkind: SafeSynthesizerJob\nmetadata: {name: a}\n"
        "spec: {dataSource: d.csv}\n"
    )
    assert cli_main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}#1: OK (config)" in out
    assert f"{path}#2: INVALID" in out and "training.lora_r: must be > 0, got 0" in out
    assert f"{path}#3: OK (SafeSynthesizerJob a)" in out


def test_older_request_forms_normalize():
    rest_request = {
        "name": "my-safe-synthesizer-job",
        "project": "default",
        "spec": {
            "data_source": "hf://datasets/default/safe-synthesizer/my-dataset.csv",
            "config": {
                "replace_pii": {
                    "globals": {
                        "locales": ["en_US"],
                        "seed": 42,
                        "ner": {"ner_threshold": 0.8, "enable_gliner": True, "entities": ["name", "email"]},
                    },
                    "steps": [
                        {
                            "rows": {
                                "update": [
                                    {"entity": ["email", "phone_number"], "value": "column.entity | fake"}
                                ]
                            }
                        }
                    ],
                },
                "training": {"learning_rate": 5e-5, "batch_size": 4, "num_epochs": 2},
                "privacy": {"privacy_hyperparams": {"dp": True, "epsilon": 6.0, "delta": "auto"}},
                "evaluation": {"mia_enabled": True, "correlation_columns": 100},
            },
        },
    }
    job = parse_document(rest_request)
    assert isinstance(job, SafeSynthesizerJob)
    config = job.spec.config
    assert job.metadata.name == "my-safe-synthesizer-job"
    assert config.privacy.dp_enabled is True and config.privacy.epsilon == 6.0
    assert config.privacy.delta == "auto"
    assert config.evaluation.sqs_report_columns == 100
    assert config.training.num_epochs == 2
    assert config.replace_pii.globals.ner.gliner.enable_gliner is True
    assert config.replace_pii.globals.ner.ner_entities == ["name", "email"]
    dumped = config.model_dump()
    assert "privacy_hyperparams" not in dumped["privacy"]
    assert "correlation_columns" not in dumped["evaluation"]
    # The normalised form round-trips to the same model.
    assert SafeSynthesizerParameters.model_validate(dumped) == config


def test_dp_requires_one_sequence_per_example():
    parse_document({"privacy": {"dp_enabled": True}, "data": {"max_sequences_per_example": 1}})
    parse_document({"privacy": {"dp_enabled": True}})
    with pytest.raises(ConfigError, match="max_sequences_per_example must be 1 or 'auto'"):
        parse_document({"privacy": {"dp_enabled": True}, "data": {"max_sequences_per_example": 4}})
    parse_document({"data": {"max_sequences_per_example": 4}})


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"data": {"holdout": -0.1}}, "data.holdout"),
        ({"training": {"validation_ratio": 1.5}}, "training.validation_ratio"),
        ({"training": {"warmup_ratio": 2}}, "training.warmup_ratio"),
        ({"training": {"lora_alpha_over_r": 9}}, "training.lora_alpha_over_r"),
        ({"generation": {"invalid_fraction_threshold": 1.2}}, "generation.invalid_fraction_threshold"),
        ({"generation": {"top_p": 0}}, "generation.top_p"),
        ({"training": {"max_vram_fraction": 0}}, "training.max_vram_fraction"),
        ({"replace_pii": {"steps": []}}, "replace_pii.steps"),
        ({"replace_pii": {"steps": [{}] * 11}}, "replace_pii.steps"),
        ({"replace_pii": {"globals": {"locales": ["xx_YY"]}}}, "replace_pii.globals.locales"),
        ({"training": {"num_input_records_to_sample": "lots"}}, "training.num_input_records_to_sample"),
        ({"training": {"num_input_records_to_sample": 0}}, "training.num_input_records_to_sample"),
        ({"training": {"lora_target_modules": ["qkv"]}}, "training.lora_target_modules[0]"),
    ],
)
def test_ranges_and_enums(doc, path):
    with pytest.raises(ConfigError) as info:
        parse_document(doc)
    assert [e.path for e in info.value.errors] == [path], info.value.errors


def test_auto_and_explicit_values_accepted():
    params = parse_document(
        {
            "training": {
                "num_input_records_to_sample": 5000,
                "rope_scaling_factor": 2,
                "learning_rate": "auto",
            },
            "data": {"max_sequences_per_example": None},
            "privacy": {"delta": 1e-6},
        }
    )
    assert params.training.num_input_records_to_sample == 5000
    assert params.training.learning_rate == "auto"
    assert params.data.max_sequences_per_example is None
    assert params.privacy.delta == 1e-6


def test_pretrained_model_job_exclusive_with_explicit_model():
    base = {
        "apiVersion": "safesynthesizer.io/v1alpha1",
        "kind": "SafeSynthesizerJob",
        "metadata": {"name": "x"},
    }
    parse_document({**base, "spec": {"dataSource": "a.csv", "pretrainedModelJob": "ns/other"}})
    with pytest.raises(ConfigError, match="mutually exclusive"):
        parse_document(
            {
                **base,
                "spec": {
                    "dataSource": "a.csv",
                    "pretrainedModelJob": "other",
                    "config": {"training": {"pretrained_model": "TinyLlama/TinyLlama-1.1B-Chat-v1.0"}},
                },
            }
        )


def test_seed_pii_examples_parse():
    config = parse_document(
        {
            "replace_pii": {
                "steps": [
                    {
                        "rows": {
                            "update": [
                                {"entity": ["email", "phone_number"], "value": "column.entity | fake"},
                                {"name": "full_name", "value": "fake.name()"},
                            ]
                        }
                    }
                ]
            }
        }
    )
    rules = config.replace_pii.steps[0].rows.update
    assert rules[0].entity == ["email", "phone_number"] and rules[1].name == "full_name"


def test_config_import_leaves_torch_out():
    code = (
        "import sys, safe_synthesizer.config, safe_synthesizer.cli, safe_synthesizer.crd;"
        "bad = [m for m in ('torch', 'transformers', 'pandas') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_defaults_and_schema_commands(capsys):
    assert cli_main(["config", "defaults", "--format", "json"]) == 0
    import json

    defaults = json.loads(capsys.readouterr().out)
    assert defaults["training"]["lora_r"] == 32
    assert SafeSynthesizerParameters.model_validate(defaults) == SafeSynthesizerParameters()
    assert cli_main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "training" in schema["properties"]


def test_public_domains_are_values_or_a_range():
    params = parse_document(
        {
            "privacy": {
                "public_domains": {"sex": {"values": ["F", "M"]}, "age": {"minimum": 0, "maximum": 120}}
            }
        }
    )
    assert params.privacy.public_domains["sex"].values == ["F", "M"]
    assert params.privacy.public_domains["age"].maximum == 120
    for bad in (
        {},
        {"values": ["a"], "minimum": 1, "maximum": 2},
        {"minimum": 1},
        {"minimum": 5, "maximum": 1},
    ):
        with pytest.raises(ConfigError) as info:
            parse_document({"privacy": {"public_domains": {"col": bad}}})
        assert info.value.errors[0].path.startswith("privacy.public_domains.col"), info.value.errors
