"""A run that fails still publishes what it knows, and its exit code tells Kubernetes the truth.

* The no-valid-record run: the built-in tiny Llama (3 M parameters, from scratch) trained for one
  step with the LLM engine and no record grammar cannot write a single valid record, every time.
  It must exit 4 (not retried), publish ``summary.json`` (status ``failed``, reason, invalid
  reasons, timings) and ``logs.jsonl`` to ``--output``, list them in ``results.json``, carry the
  links in its termination message, and the operator's status code must put them into the CR.
* One test per exit code (table in ``safe_synthesizer.errors``), the CLI main run in-process.
* Staging folders (``$TMPDIR/safe-synth-*``) are gone after every run, succeeded or failed, unless
  ``--work-dir`` was given; ``tests/conftest.py`` checks the whole session too.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from safe_synthesizer import errors
from safe_synthesizer.cli import main as cli_main
from safe_synthesizer.run_cli import TERMINATION_LIMIT, termination_text
from safe_synthesizer.staging import STAGING_PREFIX

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
COLUMNS = ["age", "workclass", "education", "sex", "hours_per_week", "income"]


def _data(tmp: Path, rows: int = 200) -> Path:
    path = tmp / "data.csv"
    pd.read_csv(DEMO)[COLUMNS].head(rows).to_csv(path, index=False)
    return path


def _config(tmp: Path, config: dict[str, Any]) -> Path:
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


SYNTHESIS_OFF = {"enable_synthesis": False, "enable_replace_pii": False, "evaluation": {"enabled": False}}
NO_VALID_RECORD = {
    "enable_replace_pii": False,
    "evaluation": {"enabled": False},
    "data": {"holdout": 0, "random_state": 5, "max_sequences_per_example": 1},
    "training": {
        "engine": "llm",
        "pretrained_model": "builtin:tiny-llama",
        "num_input_records_to_sample": 32,  # one step of batch 32: the model has learned nothing
        "batch_size": 32,
        "gradient_accumulation_steps": 1,
    },
    # no record grammar; stop after the first batch (every batch counts against patience 1)
    "generation": {"num_records": 20, "patience": 1, "invalid_fraction_threshold": 0.0},
}


def _staging_dirs(tmpdir: Path) -> list[str]:
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith(STAGING_PREFIX))


@contextlib.contextmanager
def _isolated(tmp: Path, monkeypatch: pytest.MonkeyPatch):
    """Own temporary directory (to see staging folders come and go), termination log and cache."""
    tmpdir = tmp / "tmpdir"
    tmpdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmpdir))
    monkeypatch.setenv("SAFE_SYNTH_TERMINATION_LOG", str(tmp / "termination-log"))
    monkeypatch.setenv("SAFE_SYNTH_CACHE", str(tmp / "cache"))
    (tmp / "termination-log").write_text("")
    yield tmpdir


def _run(tmp: Path, config: dict[str, Any], *extra: str, data: str | None = None) -> dict[str, Any]:
    """``safe-synthesizer run`` in-process; the exit code, stderr, termination message and output."""
    out = tmp / "out"
    argv = ["run", "-c", str(_config(tmp, config)), "--data-source", data or str(_data(tmp))]
    argv += ["-o", str(out), "-q", "--device", "cpu", *extra]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = cli_main(argv)
    text = (tmp / "termination-log").read_text()
    return {
        "code": code,
        "stderr": stderr.getvalue(),
        "termination": json.loads(text) if text else None,
        "termination_text": text,
        "out": out,
    }


@pytest.fixture(scope="module")
def no_valid_run(tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("no-valid-record")
    with pytest.MonkeyPatch.context() as monkeypatch, _isolated(tmp, monkeypatch) as tmpdir:
        result = _run(tmp, NO_VALID_RECORD)
        result["tmpdir"] = tmpdir
        result["staging_left"] = _staging_dirs(tmpdir)
    return result


def test_no_valid_record_exits_4_and_publishes_summary_and_logs(no_valid_run) -> None:
    assert no_valid_run["code"] == errors.EXIT_RUN_FAILED == 4, no_valid_run["stderr"][-2000:]
    assert "exit code 4" in no_valid_run["stderr"] and "retry would fail" in no_valid_run["stderr"]
    out = no_valid_run["out"]
    summary_text = (out / "summary.json").read_text()
    summary = json.loads(summary_text)
    assert summary["status"] == "failed"
    failure = summary["failure"]
    assert failure["reason"] == "NoValidRecords" and failure["exit_code"] == 4
    assert failure["retryable"] is False and failure["stage"] == "generate"
    assert "no valid record" in failure["message"] and "wrong_field_count" in failure["message"]
    assert summary["generation"]["generated_valid"] == 0
    assert summary["invalid_reasons"] == summary["generation"]["invalid_reasons"]
    assert sum(summary["invalid_reasons"].values()) > 0
    assert set(summary["timings_seconds"]) >= {"load", "train", "generate", "publish"}
    assert summary["elapsed_seconds"] > 0
    # paths name the published locations, never the staging folder
    assert summary["training"]["adapter_dir"] == str(out / "adapter")
    assert str(no_valid_run["tmpdir"]) not in summary_text and STAGING_PREFIX not in summary_text
    assert (out / "adapter" / "dataset_schema.json").is_file()  # training finished: reusable with --adapter
    logs = [json.loads(line) for line in (out / "logs.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "progress" and e.get("stage") == "generate" for e in logs)
    assert any(e.get("level") == "error" and "run failed (NoValidRecords" in e["message"] for e in logs)


def test_no_valid_record_results_index_lists_summary_and_logs(no_valid_run) -> None:
    out = no_valid_run["out"]
    index = json.loads((out / "results.json").read_text())
    assert index["status"] == "failed" and index["reason"] == "NoValidRecords"
    assert "no valid record" in index["message"]
    urls = {r["id"]: r["url"] for r in index["results"]}
    assert urls == {
        "logs": str(out / "logs.jsonl"),
        "adapter": str(out / "adapter"),
        "summary": str(out / "summary.json"),
    }
    assert all(Path(url).exists() for url in urls.values())
    assert not any(r["canonical"] for r in index["results"])  # no synthetic data to point at


def test_no_valid_record_termination_message_carries_reason_and_links(no_valid_run) -> None:
    message = no_valid_run["termination"]
    out = no_valid_run["out"]
    assert message["status"] == "failed" and message["reason"] == "NoValidRecords"
    assert message["exitCode"] == 4 and message["retryable"] is False
    assert "no valid record" in message["message"] and str(out / "summary.json") in message["message"]
    index = json.loads((out / "results.json").read_text())
    assert [(r["id"], r["url"]) for r in message["results"]] == [
        (r["id"], r["url"]) for r in index["results"]
    ]
    assert len(no_valid_run["termination_text"]) <= TERMINATION_LIMIT


def test_no_valid_record_cr_status_has_reason_and_links_and_the_job_is_not_retried(no_valid_run) -> None:
    """The operator's status code, fed the real termination message (no cluster needed)."""
    from safe_synthesizer_operator import jobs
    from safe_synthesizer_operator import status as st

    assert 4 in jobs.FAIL_JOB_EXIT_CODES  # podFailurePolicy FailJob: no retry for this failure
    job = {
        "metadata": {"name": "ssj-x-1"},
        "status": {
            "failed": 1,
            "conditions": [
                {"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "message": "exit code 4"}
            ],
        },
    }
    pod = {
        "metadata": {"name": "ssj-x-1-abc", "creationTimestamp": "2026-01-02T03:04:00Z"},
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {
                    "name": "runner",
                    "state": {"terminated": {"exitCode": 4, "message": no_valid_run["termination_text"]}},
                }
            ],
        },
    }
    cr = st.status_from_job({}, st.observe_job(job, [pod]), 1, "2026-01-02T03:09:00Z")
    assert cr["phase"] == "Failed"
    failed = next(c for c in cr["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "NoValidRecords" and "no valid record" in failed["message"]
    assert "exit code 4" in cr["message"]
    links = {r["id"]: r["url"] for r in cr["results"]}
    assert links["summary"] == str(no_valid_run["out"] / "summary.json")
    assert links["logs"] == str(no_valid_run["out"] / "logs.jsonl")


def test_no_valid_record_run_leaves_no_staging_folder(no_valid_run) -> None:
    assert no_valid_run["staging_left"] == []


# --- one test per exit code ----------------------------------------------------------------------


def test_exit_0_success_removes_the_staging_folder(tmp_path, monkeypatch) -> None:
    with _isolated(tmp_path, monkeypatch) as tmpdir:
        result = _run(tmp_path, SYNTHESIS_OFF)
        assert result["code"] == errors.EXIT_OK == 0, result["stderr"]
        assert result["termination"]["status"] == "succeeded"
        summary = json.loads((result["out"] / "summary.json").read_text())
        assert summary["status"] == "succeeded" and "failure" not in summary
        assert (result["out"] / "logs.jsonl").is_file()
        assert _staging_dirs(tmpdir) == []


def test_work_dir_is_kept(tmp_path, monkeypatch) -> None:
    with _isolated(tmp_path, monkeypatch) as tmpdir:
        result = _run(tmp_path, SYNTHESIS_OFF, "--work-dir", str(tmp_path / "work"))
        assert result["code"] == 0
        assert (tmp_path / "work" / "out" / "summary.json").is_file()  # the user's folder stays
        assert _staging_dirs(tmpdir) == []


def test_exit_1_invalid_config(tmp_path, monkeypatch) -> None:
    with _isolated(tmp_path, monkeypatch) as tmpdir:
        result = _run(tmp_path, {"generation": {"num_records": -5}})
        assert result["code"] == errors.EXIT_USER_INPUT == 1
        message = result["termination"]
        assert message["status"] == "failed" and message["reason"] == "InvalidSpec"
        assert message["exitCode"] == 1 and message["retryable"] is False
        assert "num_records" in message["message"]
        assert _staging_dirs(tmpdir) == []


def test_exit_1_bad_input_publishes_a_failed_summary(tmp_path, monkeypatch) -> None:
    with _isolated(tmp_path, monkeypatch) as tmpdir:
        result = _run(tmp_path, SYNTHESIS_OFF, data=str(tmp_path / "missing.csv"))
        assert result["code"] == 1
        message = result["termination"]
        assert message["reason"] == "InvalidInput" and "missing.csv" in message["message"]
        summary = json.loads((result["out"] / "summary.json").read_text())
        assert summary["status"] == "failed" and summary["failure"]["reason"] == "InvalidInput"
        assert summary["failure"]["stage"] == "load" and "load" in summary["timings_seconds"]
        assert {r["id"] for r in message["results"]} == {"logs", "summary"}
        assert json.loads((result["out"] / "results.json").read_text())["status"] == "failed"
        assert _staging_dirs(tmpdir) == []


def test_exit_1_unreachable_epsilon(tmp_path, monkeypatch) -> None:
    config = {
        "enable_replace_pii": False,
        "evaluation": {"enabled": False},
        "data": {"holdout": 0, "random_state": 5, "max_sequences_per_example": 1},
        "privacy": {"dp_enabled": True, "epsilon": 0.01},
        "training": {
            "engine": "llm",
            "pretrained_model": "builtin:tiny-llama",
            "num_input_records_to_sample": 2000,
            "batch_size": 32,
            "gradient_accumulation_steps": 1,
            "validation_ratio": 0,
        },
    }
    with _isolated(tmp_path, monkeypatch) as tmpdir:
        result = _run(tmp_path, config)
        assert result["code"] == 1, result["stderr"][-2000:]
        message = result["termination"]
        assert message["reason"] == "InvalidInput" and "cannot be reached" in message["message"]
        assert message["retryable"] is False
        summary = json.loads((result["out"] / "summary.json").read_text())
        assert summary["status"] == "failed" and "cannot be reached" in summary["failure"]["message"]
        assert _staging_dirs(tmpdir) == []


def test_exit_2_usage() -> None:
    for argv in (["run"], ["run", "-c", "x.yaml", "--device", "tpu"]):
        with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as info:
            cli_main(argv)
        assert info.value.code == errors.EXIT_USAGE == 2


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (errors.TransientError("S3 failed with SlowDown while trying to read s3://b/k.csv"), "Transient"),
        (ConnectionRefusedError(111, "Connection refused"), "Transient"),
        (MemoryError(), "OutOfMemory"),
    ],
    ids=["TransientError", "connection", "memory"],
)
def test_exit_3_infrastructure_failures_are_retried(tmp_path, monkeypatch, error, reason) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr("safe_synthesizer.pipeline.load_table", fail)
    with _isolated(tmp_path, monkeypatch) as tmpdir:
        result = _run(tmp_path, SYNTHESIS_OFF)
        assert result["code"] == errors.EXIT_TRANSIENT == 3
        message = result["termination"]
        assert message["reason"] == reason and message["exitCode"] == 3 and message["retryable"] is True
        summary = json.loads((result["out"] / "summary.json").read_text())
        assert summary["failure"]["reason"] == reason and summary["failure"]["retryable"] is True
        assert _staging_dirs(tmpdir) == []


def test_exit_4_internal_error(tmp_path, monkeypatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom in the loader")

    monkeypatch.setattr("safe_synthesizer.pipeline.load_table", fail)
    with _isolated(tmp_path, monkeypatch) as tmpdir:
        result = _run(tmp_path, SYNTHESIS_OFF)
        assert result["code"] == 4
        message = result["termination"]
        assert message["reason"] == "InternalError" and message["retryable"] is False
        assert "RuntimeError: boom in the loader" in message["message"]
        summary = json.loads((result["out"] / "summary.json").read_text())
        assert "boom in the loader" in summary["failure"]["traceback"]
        assert _staging_dirs(tmpdir) == []


def test_exit_code_table_and_the_operator_agree() -> None:
    from safe_synthesizer_operator import jobs

    assert errors.NON_RETRYABLE_EXIT_CODES == (1, 2, 4)
    assert jobs.FAIL_JOB_EXIT_CODES == errors.NON_RETRYABLE_EXIT_CODES
    assert errors.EXIT_TRANSIENT not in jobs.FAIL_JOB_EXIT_CODES


def test_classify_failure() -> None:
    from botocore.exceptions import EndpointConnectionError

    from safe_synthesizer.config import ConfigError

    class OutOfMemoryError(RuntimeError):  # as torch.cuda.OutOfMemoryError
        pass

    def caused(outer: BaseException, cause: BaseException) -> BaseException:
        outer.__cause__ = cause
        return outer

    cases = {
        "unreachable endpoint": (EndpointConnectionError(endpoint_url="http://s3:9000"), 3, "Transient"),
        "wrapped timeout": (caused(RuntimeError("download failed"), TimeoutError()), 3, "Transient"),
        "cuda oom": (OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"), 3, "OutOfMemory"),
        "oom message": (RuntimeError("CUDA error: out of memory"), 3, "OutOfMemory"),
        "no valid record": (errors.NoValidRecordsError("x"), 4, "NoValidRecords"),
        "bug": (KeyError("column"), 4, "InternalError"),
        "config": (ConfigError([], "job.yaml"), 1, "InvalidSpec"),
        "data source": (errors.DataSourceError("s3://b/k does not exist"), 1, "InvalidInput"),
    }
    for name, (exc, code, reason) in cases.items():
        failure = errors.classify_failure(exc)
        assert (failure.exit_code, failure.reason) == (code, reason), name
        assert failure.retryable is (code == errors.EXIT_TRANSIENT), name
    # an error raised while handling a network error is not a network failure
    try:
        try:
            raise ConnectionError("offline")
        except ConnectionError:
            raise ValueError("bad value") from None
    except ValueError as exc:
        assert errors.classify_failure(exc).exit_code == 4


def test_termination_text_stays_valid_json_under_the_limit() -> None:
    results = [{"id": f"r{i}", "format": "json", "url": f"s3://b/o/{'x' * 200}/{i}.json"} for i in range(30)]
    results.append({"id": "summary", "format": "json", "canonical": False, "url": "s3://b/o/summary.json"})
    payload = {"status": "failed", "reason": "NoValidRecords", "exitCode": 4, "message": "m" * 3000}
    text = termination_text({**payload, "results": results})
    assert len(text) <= TERMINATION_LIMIT
    parsed = json.loads(text)
    assert parsed["reason"] == "NoValidRecords" and parsed["message"].startswith("mmm")
    assert [r["id"] for r in parsed["results"]] == ["summary"]
