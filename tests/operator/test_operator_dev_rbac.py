"""A local operator (`make operator-run`) and the job pods' right to report progress.

Job pods patch their own CR's ``status.progress``; with the namespace's ``default`` ServiceAccount
that is HTTP 403 and STAGE stays empty. So: the operator warns at startup when no job
ServiceAccount is configured, ``make operator-run`` configures the chart's, and ``make
operator-dev-rbac`` creates it (and its Role) from the chart's own template, checked on the test
cluster with ``kubectl auth can-i``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from e2e_support import ROOT, Release

from safe_synthesizer_operator.settings import OperatorSettings

JOB_SA = "safe-synthesizer-job"


def test_warns_when_job_pods_would_use_the_default_service_account() -> None:
    (warning,) = OperatorSettings.from_env({}).warnings()
    assert "403" in warning and "make operator-dev-rbac" in warning and "SSO_JOB_SERVICE_ACCOUNT" in warning
    assert OperatorSettings.from_env({"SSO_JOB_SERVICE_ACCOUNT": JOB_SA}).warnings() == []
    assert OperatorSettings.from_env({"SSO_PROGRESS_REPORTING": "false"}).warnings() == []


def _operator_run_env(tmp_path: Path, **env: str) -> str:
    """SSO_JOB_SERVICE_ACCOUNT as `make operator-run` passes it (a stand-in python prints it)."""
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\necho "sa=${SSO_JOB_SERVICE_ACCOUNT-unset}"\n')
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if k != "SSO_JOB_SERVICE_ACCOUNT"}
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "operator-run", f"BIN={tmp_path}"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_make_operator_run_gives_job_pods_the_charts_service_account(tmp_path: Path) -> None:
    assert _operator_run_env(tmp_path) == f"sa={JOB_SA}"
    assert _operator_run_env(tmp_path, SSO_JOB_SERVICE_ACCOUNT="mine") == "sa=mine"


def _can_patch_status(release: Release, namespace: str, account: str) -> str:
    result = subprocess.run(
        [
            release.cluster.binary("kubectl"),
            "--kubeconfig",
            str(release.cluster.kubeconfig),
            "auth",
            "can-i",
            "patch",
            "safesynthesizerjobs.safesynthesizer.io",
            "--subresource=status",
            "-n",
            namespace,
            f"--as=system:serviceaccount:{namespace}:{account}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.strip()


@pytest.mark.cluster
def test_make_operator_dev_rbac_lets_the_job_account_patch_status(release: Release) -> None:
    namespace = "dev-rbac"
    release.cluster.kubectl("create", "namespace", namespace)
    try:
        assert _can_patch_status(release, namespace, JOB_SA) == "no"
        env = {**os.environ, "KUBECONFIG": str(release.cluster.kubeconfig)}
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "operator-dev-rbac",
                f"NAMESPACE={namespace}",
                f"KUBECTL={release.cluster.binary('kubectl')}",
                f"HELM={release.cluster.binary('helm')}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert f"serviceaccount/{JOB_SA} created" in result.stdout
        assert _can_patch_status(release, namespace, JOB_SA) == "yes"
        assert _can_patch_status(release, namespace, "default") == "no"  # what a job pod had before
    finally:
        release.cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
