"""Unit tests of the operator settings (SSO_* environment) and the no-torch rule."""

from __future__ import annotations

import subprocess
import sys

import pytest

from safe_synthesizer_operator.settings import DEFAULT_RUNNER_COMMAND, OperatorSettings, SettingsError


def test_defaults_from_an_empty_environment() -> None:
    settings = OperatorSettings.from_env({})
    assert settings == OperatorSettings()
    assert settings.runner_command == DEFAULT_RUNNER_COMMAND and settings.clusterwide
    # what the chart renders for unset values: empty strings mean "default"
    assert (
        OperatorSettings.from_env({"SSO_DEFAULT_OUTPUT": "", "SSO_NAMESPACES": "", "SSO_METRICS_PORT": ""})
        == settings
    )


def test_every_variable_is_read() -> None:
    settings = OperatorSettings.from_env(
        {
            "SSO_RUNNER_IMAGE": "r:1",
            "SSO_RUNNER_COMMAND": '["python", "-m", "x"]',
            "SSO_DEFAULT_OUTPUT": "s3://b/p",
            "SSO_DEFAULT_S3_ENDPOINT": "http://minio:9000",
            "SSO_DEFAULT_S3_SECRET": "s3",
            "SSO_NAMESPACES": "a, b",
            "SSO_JOB_SERVICE_ACCOUNT": "job",
            "SSO_PROGRESS_REPORTING": "false",
            "SSO_JOB_TTL_SECONDS": "60",
            "SSO_DEFAULT_NODE_SELECTOR": '{"pool": "gpu"}',
            "SSO_DEFAULT_TOLERATIONS": '[{"key": "k", "operator": "Exists"}]',
            "SSO_IMAGE_PULL_SECRETS": "one,two",
            "SSO_RESYNC_SECONDS": "2.5",
        }
    )
    assert settings.runner_image == "r:1" and settings.runner_command == ("python", "-m", "x")
    assert settings.default_output == "s3://b/p/"  # a prefix always ends in /
    assert settings.namespaces == ("a", "b") and not settings.clusterwide
    assert settings.progress_reporting is False and settings.job_ttl_seconds == 60
    assert settings.default_node_selector == {"pool": "gpu"}
    assert settings.image_pull_secrets == ("one", "two") and settings.resync_seconds == 2.5
    assert OperatorSettings.from_env(
        {"SSO_RUNNER_COMMAND": "safe-synthesizer run --quiet"}
    ).runner_command == (
        "safe-synthesizer",
        "run",
        "--quiet",
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SSO_PROGRESS_REPORTING", "maybe"),
        ("SSO_JOB_TTL_SECONDS", "-1"),
        ("SSO_RESYNC_SECONDS", "0"),
        ("SSO_DEFAULT_NODE_SELECTOR", "[1]"),
        ("SSO_DEFAULT_TOLERATIONS", "{nope"),
        ("SSO_RUNNER_COMMAND", "[]"),
        ("SSO_RUNNER_IMAGE_PULL_POLICY", "Sometimes"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        OperatorSettings.from_env({name: value})


def test_operator_never_imports_torch_or_pandas() -> None:
    code = (
        "import sys, safe_synthesizer_operator.handlers, safe_synthesizer_operator.__main__; "
        "bad = [m for m in ('torch', 'pandas', 'transformers') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_main_rejects_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from safe_synthesizer_operator.__main__ import main

    monkeypatch.setenv("SSO_JOB_TTL_SECONDS", "soon")
    assert main(["--liveness", ""]) == 2
    assert "SSO_JOB_TTL_SECONDS" in capsys.readouterr().err


def test_propagated_keys_default_to_kueues_and_may_be_emptied() -> None:
    assert OperatorSettings.from_env({}).propagate_labels == (
        "kueue.x-k8s.io/queue-name",
        "kueue.x-k8s.io/priority-class",
    )
    settings = OperatorSettings.from_env(
        {"SSO_PROPAGATE_LABELS": "", "SSO_PROPAGATE_ANNOTATIONS": "example.com/, team"}
    )
    assert settings.propagate_labels == () and settings.propagate_annotations == ("example.com/", "team")
