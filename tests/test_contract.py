"""The runner ↔ operator ↔ SDK contract (``safe_synthesizer.contract``).

* What the real runner writes (the CLI run in-process, succeeded and failed) is read by the
  operator's status code into the CR status: results, scores and reason arrive unchanged, and the
  published ``results.json`` parses as :class:`ResultsIndex` with the same references.
* The wire format is the one the runner always wrote (same keys; a succeeded run byte for byte).
* The TEST STAND-IN runner writes messages the same reader accepts.
* ``SAFE_SYNTH_*`` names: the Job the operator builds sets exactly the contract's names, and the
  contract's parties spell none by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from safe_synthesizer import contract
from safe_synthesizer.cli import main as cli_main
from safe_synthesizer.config import SafeSynthesizerJobSpec
from safe_synthesizer.contract import (
    TERMINATION_LIMIT,
    Progress,
    ResultRef,
    ResultsIndex,
    Scores,
    TerminationMessage,
    parse_termination_message,
)
from safe_synthesizer.errors import Failure
from safe_synthesizer.pipeline import RunOutcome
from safe_synthesizer.run_cli import failure_payload, success_payload
from safe_synthesizer_operator import jobs
from safe_synthesizer_operator import status as st
from safe_synthesizer_operator.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
NOW = "2026-01-02T03:04:05Z"
SYNTHESIS_OFF = {"enable_synthesis": False, "enable_replace_pii": False, "evaluation": {"enabled": False}}

RESULTS = [
    ResultRef(
        id="synthetic_data", format="csv", canonical=True, url="s3://b/o/synthetic_data.csv", sizeBytes=9
    ),
    ResultRef(id="adapter", format="directory", url="s3://b/o/adapter/"),
    ResultRef(id="summary", format="json", url="s3://b/o/summary.json", sizeBytes=100),
]


def _outcome(status: str = "succeeded", **summary: Any) -> RunOutcome:
    base = {"scores": {"sqs": 6.2, "dps": None}, "rows_out": 500, "privacy": {"epsilon_spent": 7.9}}
    return RunOutcome(status=status, results=list(RESULTS), summary={**base, **summary}, output="s3://b/o/")


def _job_observation(condition: str, message: str, exit_code: int) -> st.JobObservation:
    pod = {
        "metadata": {"name": "p-1", "creationTimestamp": NOW},
        "status": {
            "phase": "Succeeded" if condition == "Complete" else "Failed",
            "containerStatuses": [
                {"name": "runner", "state": {"terminated": {"exitCode": exit_code, "message": message}}}
            ],
        },
    }
    job = {
        "metadata": {"name": "ssj-x-1"},
        "status": {"conditions": [{"type": condition, "status": "True", "reason": "X", "message": ""}]},
    }
    return st.observe_job(job, [pod])


# -- wire format ---------------------------------------------------------------------------------


def test_success_message_is_byte_for_byte_what_the_runner_always_wrote() -> None:
    outcome = _outcome()
    legacy = {  # what run_cli.py built by hand before the contract module
        "status": "succeeded",
        "results": [r.model_dump(exclude_none=True) for r in outcome.results],
        "scores": {"sqs": 6.2, "dps": None},
        "epsilonSpent": 7.9,
        "message": "500 records",
    }
    assert success_payload(outcome).to_text() == json.dumps(legacy, separators=(",", ":"))
    without_scores = _outcome(scores=None, privacy={})
    text = success_payload(without_scores).to_text()
    assert '"scores":null' in text and '"epsilonSpent":null' in text  # keys kept, as before


def test_failure_message_has_the_legacy_keys_and_values() -> None:
    failure = Failure(4, "NoValidRecords", False)
    bare = json.loads(failure_payload(failure, "m" * 5000).to_text())
    assert bare == {
        "status": "failed",
        "reason": "NoValidRecords",
        "exitCode": 4,
        "retryable": False,
        "message": "m" * 3000,
    }
    published = json.loads(failure_payload(failure, "boom", _outcome("failed")).to_text())
    assert set(published) == {
        "status",
        "reason",
        "exitCode",
        "retryable",
        "message",
        "results",
        "epsilonSpent",
    }
    assert published["results"][1] == {
        "id": "adapter",
        "format": "directory",
        "canonical": False,
        "url": "s3://b/o/adapter/",
    }
    assert "scores" not in published  # a failed run never reported scores
    no_budget = json.loads(failure_payload(failure, "boom", _outcome("failed", privacy={})).to_text())
    assert "epsilonSpent" not in no_budget


def test_round_trip_keeps_every_field() -> None:
    message = TerminationMessage(
        status="failed",
        reason="Transient",
        exitCode=3,
        retryable=True,
        results=RESULTS,
        scores=Scores(sqs=1.5, dps=9.0),
        epsilonSpent=0.5,
        message="S3 unreachable",
    )
    parsed = parse_termination_message(message.to_text())
    assert parsed is not None and parsed.is_json
    assert parsed.model_dump() == message.model_dump()
    assert parse_termination_message(parsed.to_text()) == parsed


def test_long_messages_stay_valid_json_under_the_limit() -> None:
    results = [ResultRef(id=f"r{i}", format="json", url=f"s3://b/o/{'x' * 200}/{i}.json") for i in range(30)]
    message = TerminationMessage(
        status="failed",
        reason="NoValidRecords",
        exitCode=4,
        results=[*results, *RESULTS],
        message="m" * 3900,
    )
    text = message.to_text()
    assert len(text) <= TERMINATION_LIMIT
    parsed = parse_termination_message(text)
    assert parsed is not None and parsed.reason == "NoValidRecords"
    assert [r.id for r in parsed.results] == ["synthetic_data", "summary"]  # canonical data and summary
    assert parsed.message is not None and parsed.message.endswith("...")


def test_reader_is_lenient_and_never_raises() -> None:
    assert parse_termination_message(None) is None and parse_termination_message("  ") is None
    tail = parse_termination_message("Traceback ...\nValueError: boom")
    assert tail is not None and not tail.is_json and tail.message == "Traceback ...\nValueError: boom"
    assert parse_termination_message("[1, 2]").is_json is False  # JSON, but not an object
    odd = parse_termination_message(
        json.dumps(
            {
                "status": "failed",
                "exitCode": True,
                "retryable": "no",
                "epsilonSpent": -1,
                "scores": {"sqs": "high", "dps": 3},
                "results": [{"id": "x"}, "junk", {"id": "y", "url": "u", "sizeBytes": -5}],
            }
        )
    )
    assert odd is not None and odd.exitCode is None and odd.retryable is None and odd.epsilonSpent is None
    assert odd.scores_status() == {"dps": 3.0}
    assert [(r.id, r.format, r.sizeBytes) for r in odd.results] == [("y", "unknown", None)]
    nan = parse_termination_message('{"status":"succeeded","epsilonSpent":NaN,"scores":{"sqs":NaN}}')
    assert nan is not None and nan.epsilonSpent is None and nan.scores is None
    many = [{"id": f"r{i}", "url": f"u{i}"} for i in range(100)]
    assert len(parse_termination_message(json.dumps({"results": many})).results) == contract.MAX_RESULTS


# -- the real runner's output, read by the operator --------------------------------------------------


def _run_cli(tmp: Path, monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]) -> tuple[int, str, Path]:
    data = tmp / "data.csv"
    pd.read_csv(DEMO)[["age", "workclass", "education", "sex", "income"]].head(60).to_csv(data, index=False)
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log = tmp / "termination-log"
    log.write_text("")
    monkeypatch.setenv(contract.ENV_TERMINATION_LOG, str(log))
    monkeypatch.setenv(contract.ENV_CACHE, str(tmp / "cache"))
    out = tmp / "out"
    argv = [
        "run",
        "-c",
        str(config_path),
        "--data-source",
        str(data),
        "-o",
        str(out),
        "-q",
        "--device",
        "cpu",
    ]
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(argv)
    return code, log.read_text(), out


def test_runner_success_reaches_the_cr_status_unchanged(tmp_path, monkeypatch) -> None:
    code, text, out = _run_cli(tmp_path, monkeypatch, SYNTHESIS_OFF)
    assert code == 0 and text
    written = json.loads(text)
    index = ResultsIndex.model_validate_json((out / contract.RESULTS_INDEX_FILE).read_text())
    assert index.status == written["status"] == "succeeded"
    assert [r.url for r in index.results] == [r["url"] for r in written["results"]]
    assert {r.id for r in index.results} >= {"summary", "logs"}
    assert all(Path(r.url).exists() for r in index.results)

    observed = _job_observation("Complete", text, 0)
    status = st.status_from_job({}, observed, 1, NOW)
    assert status["phase"] == st.SUCCEEDED
    assert status["results"] == written["results"]  # every reference, every field, as written
    assert status["message"] == written["message"]
    assert status["progress"] == {
        "stage": "done",
        "percent": 100.0,
        "message": written["message"],
        "updatedAt": NOW,
    }
    Progress.model_validate(status["progress"])


def test_runner_failure_reaches_the_cr_status_unchanged(tmp_path, monkeypatch) -> None:
    code, text, out = _run_cli(tmp_path, monkeypatch, {"generation": {"num_records": -5}})
    assert code == 1
    written = parse_termination_message(text)
    assert written is not None and written.reason == "InvalidSpec" and written.exitCode == 1
    status = st.status_from_job({}, _job_observation("Failed", text, 1), 1, NOW)
    assert status["phase"] == st.FAILED
    failed = st.get_condition(status["conditions"], "Failed")
    assert failed is not None and failed["reason"] == "InvalidSpec"
    assert written.message is not None and status["message"].startswith(written.message)


def test_stand_in_runner_speaks_the_same_contract(tmp_path, monkeypatch) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "operator"))
    try:
        import stand_in_runner
    finally:
        sys.path.remove(str(ROOT / "tests" / "operator"))
    log = tmp_path / "termination-log"
    monkeypatch.setenv(contract.ENV_TERMINATION_LOG, str(log))
    for source, exit_code, phase in (
        ("s3://b/in.csv", 0, st.SUCCEEDED),
        ("s3://b/missing.csv", 1, st.FAILED),
    ):
        document = tmp_path / "job.yaml"
        document.write_text(yaml.safe_dump({"spec": {"dataSource": source, "output": "s3://b/out"}}))
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            assert stand_in_runner.main(["--config", str(document)]) == exit_code
        text = log.read_text()
        strict = TerminationMessage.model_validate_json(text)  # the writer's model, strictly
        assert parse_termination_message(text) == strict
        condition = "Complete" if exit_code == 0 else "Failed"
        status = st.status_from_job({}, _job_observation(condition, text, exit_code), 1, NOW)
        assert status["phase"] == phase
        if exit_code == 0:
            assert [r["id"] for r in status["results"]] == ["synthetic_data", "adapter"]
            assert status["scores"] == {"sqs": 7.0, "dps": 8.0}


# -- progress and results index ----------------------------------------------------------------------


def test_progress_status_is_a_valid_cr_progress() -> None:
    progress = contract.progress_status("s" * 100, 150.0, "m" * 2000, NOW)
    assert Progress.model_validate(progress).percent == 100.0
    assert len(progress["stage"]) == 64 and len(progress["message"]) == 1024
    assert contract.progress_status("train", -3, None, None)["percent"] == 0.0


def test_results_index_wire_and_canonical() -> None:
    index = ResultsIndex(status="failed", results=RESULTS, scores=None, reason="InvalidInput", message="m")
    wire = index.to_wire()
    assert wire["results"][1]["sizeBytes"] is None and wire["reason"] == "InvalidInput"
    assert ResultsIndex.model_validate(wire) == index
    assert index.canonical() is not None and index.canonical().id == "synthetic_data"
    assert "reason" not in ResultsIndex(status="succeeded").to_wire()


# -- environment names ---------------------------------------------------------------------------


def test_the_operator_sets_the_names_the_runner_reads() -> None:
    owner = jobs.Owner(name="n", namespace="ns", uid="u", generation=1)
    spec = SafeSynthesizerJobSpec.model_validate(
        {"dataSource": "s3://b/in.csv", "output": "s3://b/out/", "pseudonymKeySecret": "key"}
    )
    job = jobs.build_job(
        owner, spec, OperatorSettings(), "ssj-n-1", "s3://b/prev/adapter/", service_account="sa"
    )
    names = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    ours = {n for n in names if n.startswith("SAFE_SYNTH_")}
    constants = {getattr(contract, n) for n in contract.__all__ if n.startswith("ENV_")}
    assert ours <= constants
    assert ours >= {
        contract.ENV_TERMINATION_LOG,
        contract.ENV_CACHE,
        contract.ENV_CR_NAME,
        contract.ENV_CR_NAMESPACE,
        contract.ENV_CR_UID,
        contract.ENV_ADAPTER_URL,
        contract.ENV_PSEUDONYM_KEY,
    }
    assert all(n.startswith("SAFE_SYNTH_") and n.isupper() for n in constants)


@pytest.mark.parametrize(
    "path",
    [
        "runner/safe_synthesizer/run_cli.py",
        "runner/safe_synthesizer/k8s_progress.py",
        "operator/safe_synthesizer_operator/jobs.py",
        "operator/safe_synthesizer_operator/status.py",
        "tests/operator/stand_in_runner.py",
    ],
)
def test_the_parties_spell_no_name_by_hand(path: str) -> None:
    code = (ROOT / path).read_text(encoding="utf-8")
    assert not re.findall(r"[\"']SAFE_SYNTH_[A-Z_]+[\"']", code), (
        f"{path}: use safe_synthesizer.contract.ENV_*"
    )
    if path.endswith(("status.py", "stand_in_runner.py", "run_cli.py")):
        assert "json.loads" not in code and "json.dumps(" not in code.replace("json.dumps(line)", ""), path


def test_run_warnings_travel_to_the_cr_warnings_condition(tmp_path, monkeypatch) -> None:
    """An accepted-only field set by the user warns on screen, in summary.json and on the CR."""
    config = {**SYNTHESIS_OFF, "training": {"use_unsloth": True}}
    code, text, out = _run_cli(tmp_path, monkeypatch, config)
    assert code == 0
    summary = json.loads((out / contract.SUMMARY_FILE).read_text())
    unsloth = [w for w in summary["warnings"] if "use_unsloth" in w]
    assert unsloth
    written = json.loads(text)
    assert written["warnings"] == contract.cap_warnings(summary["warnings"])
    status = st.status_from_job({}, _job_observation("Complete", text, 0), 1, NOW)
    warned = next(c for c in status["conditions"] if c["type"] == "Warnings")
    assert warned["status"] == "True" and unsloth[0][:200] in warned["message"]
    # a run without warnings writes no such key (the bytes stay what they always were)
    assert "warnings" not in success_payload(_outcome()).to_wire()


def test_warnings_are_capped_in_number_and_length() -> None:
    capped = contract.cap_warnings(["x" * 1000] + [f"w{i}" for i in range(20)] + [3, None, " "])
    assert len(capped) == contract.MAX_WARNINGS
    assert len(capped[0]) == contract.MAX_WARNING and capped[0].endswith("...")
    assert capped[1:] == [f"w{i}" for i in range(contract.MAX_WARNINGS - 1)]
    parsed = contract.parse_termination_message(json.dumps({"status": "succeeded", "warnings": "not a list"}))
    assert parsed is not None and parsed.warnings == []
