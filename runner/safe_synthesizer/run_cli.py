"""``safe-synthesizer run``: the pipeline from the command line (and inside the runner pod).

``run --config job.yaml`` runs everything; ``run train`` stops after saving the adapter;
``run generate --adapter <earlier output>`` generates (and evaluates) with an earlier adapter.
Sharded generation (``generation.shards``, :mod:`safe_synthesizer.sharding`): ``run generate --shards N
--shard-index i`` generates shard ``i`` into ``<output>/shards/<i>/`` (index default
``$JOB_COMPLETION_INDEX``, adapter default the output itself), ``run merge`` publishes the canonical
outputs from all shards. ``--train-processes N`` trains the LLM engine data-parallel in N processes,
one per GPU (:mod:`safe_synthesizer.distributed`; the operator passes ``resources.gpu`` when above 1).
The config may be a ``SafeSynthesizerJob`` manifest (its ``dataSource``/``output``/``s3`` are used)
or a bare config (then ``--data-source`` and ``--output`` say where).

Every run, failed ones included, publishes ``summary.json``, ``logs.jsonl`` and the results index
``results.json`` to its output; a temporary staging folder (no ``--work-dir``) is removed afterwards.
Exit codes (:data:`EXIT_CODES_HELP`, full table in :mod:`safe_synthesizer.errors`): 0 success (also
partial results), 1 bad input or config, 2 usage, 3 transient infrastructure failure (the only one
the Job retries), 4 the run failed in a way a retry repeats (no valid record, internal error).
The termination message (``$SAFE_SYNTH_TERMINATION_LOG``, default ``/dev/termination-log`` when
writable) is compact JSON under 4 KiB: status, results, scores, epsilonSpent, message, and for a
failed run reason, exitCode, retryable and the links to what it published.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .autoconfig import run_seed
from .config import ConfigError, S3Settings, SafeSynthesizerJob, load_job_or_config
from .contract import (
    DEFAULT_TERMINATION_LOG,
    ENV_ADAPTER_URL,
    ENV_OUTPUT,
    ENV_PSEUDONYM_KEY,
    ENV_STATUS_FILE,
    ENV_TERMINATION_LOG,
    Scores,
    ShardReport,
    TerminationMessage,
    cap_warnings,
)
from .contract import TERMINATION_LIMIT as TERMINATION_LIMIT  # re-exported: older imports
from .contract import termination_text as termination_text
from .errors import EXIT_OK, Failure, classify_failure
from .errors import EXIT_USER_INPUT as EXIT_INVALID
from .staging import new_staging_dir, remove_staging_dir

if TYPE_CHECKING:
    from .pipeline import RunOutcome
    from .sharding import Shard

EXIT_CODES_HELP = """exit codes:
  0  succeeded (also partial results: summary.json says partial and why)
  1  bad input or config (missing data, wrong credentials, unreachable privacy.epsilon): not retried
  2  wrong command line: not retried
  3  transient infrastructure failure (S3 or network unreachable, out of memory): retried
  4  the run failed the same way a retry would (no valid record, internal error): not retried
every run, failed ones included, publishes summary.json, logs.jsonl and results.json to --output"""

log = logging.getLogger("safe_synthesizer")


def add_run_parser(sub: Any) -> None:
    """Register ``run`` on the top-level parser."""
    run = sub.add_parser(
        "run",
        help="run the pipeline (or one half: train, generate)",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "phase",
        nargs="?",
        choices=["train", "generate", "merge"],
        help="only train, only generate, or merge generation shards (see --shards)",
    )
    run.add_argument(
        "--config", "-c", required=True, help="SafeSynthesizerJob manifest or bare config (YAML/JSON)"
    )
    run.add_argument("--data-source", help="input table (overrides spec.dataSource)")
    run.add_argument("--output", "-o", help="output directory or s3:// prefix (overrides spec.output)")
    run.add_argument("--adapter", help="generation only: an earlier output (prefix or folder) with adapter/")
    run.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    run.add_argument("--work-dir", help="local staging folder (default: a temporary one)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    run.add_argument(
        "--shards",
        type=int,
        help="generate: this run is one of N generation shards (writes <output>/shards/<i>/); "
        "merge: how many shards to merge (default generation.shards)",
    )
    run.add_argument(
        "--train-processes",
        type=int,
        default=1,
        help="train the LLM engine data-parallel in N processes, one per GPU (the operator passes "
        "resources.gpu); not with DP or the field-token engine (default 1)",
    )
    run.add_argument(
        "--shard-index",
        type=int,
        help="generate with --shards: which shard, 0..N-1 (default $JOB_COMPLETION_INDEX)",
    )


class JsonLogHandler(logging.Handler):
    """Structured JSON log lines (``logs.jsonl``). Messages never carry record values."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        line = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": "log",
            "message": record.getMessage(),
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")


def _stop_on_sigterm(stop_requested: threading.Event) -> Any:
    """First SIGTERM (Kubernetes stopping the pod): stop at the next step or batch and publish what
    exists within the grace period; a second one exits at once. Returns the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handle(signum: int, frame: Any) -> None:
        if stop_requested.is_set():
            raise SystemExit(128 + signum)
        stop_requested.set()
        log.warning("termination requested (signal %d): stopping and publishing the results so far", signum)

    return signal.signal(signal.SIGTERM, handle)


def write_termination_message(message: TerminationMessage) -> None:
    """Compact JSON for the operator (Kubernetes termination message), see
    :meth:`~safe_synthesizer.contract.TerminationMessage.to_text`.

    Written to ``$SAFE_SYNTH_TERMINATION_LOG`` (default ``/dev/termination-log`` when it exists)."""
    path = os.environ.get(ENV_TERMINATION_LOG, DEFAULT_TERMINATION_LOG)
    target = Path(path)
    if not target.parent.exists() or (not target.exists() and path == DEFAULT_TERMINATION_LOG):
        return
    try:
        target.write_text(message.to_text(), encoding="utf-8")
    except OSError:
        log.warning("cannot write the termination message to %s", path)


def failure_payload(failure: Failure, message: str, outcome: RunOutcome | None = None) -> TerminationMessage:
    """The termination message of a failed run: status, reason, exit code, message and, when the
    run published its summary, the result links (summary, logs, adapter) and the budget spent."""
    payload = TerminationMessage(
        status="failed",
        reason=failure.reason,
        exitCode=failure.exit_code,
        retryable=failure.retryable,
        message=message[:3000],
    )
    if outcome is not None:
        payload.results = list(outcome.results)
        epsilon = (outcome.summary.get("privacy") or {}).get("epsilon_spent")
        if epsilon is not None:
            payload.epsilonSpent = epsilon
    return payload


def success_payload(outcome: RunOutcome) -> TerminationMessage:
    """The termination message of a run that published its results (status succeeded or partial)."""
    summary = outcome.summary
    scores = summary.get("scores")
    payload = TerminationMessage(
        status=outcome.status,
        results=list(outcome.results),
        scores=Scores(**{k: scores.get(k) for k in ("sqs", "dps")}) if isinstance(scores, dict) else None,
        epsilonSpent=(summary.get("privacy") or {}).get("epsilon_spent"),
        message=summary.get("partial_reason") or f"{summary.get('rows_out', 0)} records",
    )
    warnings = cap_warnings(summary.get("warnings"))
    if warnings:  # the operator shows them as the CR's Warnings condition
        payload.warnings = warnings
    shard = summary.get("shard")
    if isinstance(shard, dict):  # a generation shard: the operator's per-shard status
        payload.shard = ShardReport(
            index=shard["index"],
            count=shard["count"],
            seed=shard.get("seed"),
            records=summary.get("rows_out", 0),
        )
    return payload


def _options_from(args: argparse.Namespace, loaded: Any) -> tuple[Any, Any]:
    from .pipeline import RunOptions

    if isinstance(loaded, SafeSynthesizerJob):
        spec = loaded.spec
        params = spec.config
        data_source = args.data_source or spec.dataSource
        output = args.output or spec.output
        s3 = spec.s3
        name = loaded.metadata.name or "safe-synthesizer"
    else:
        params = loaded
        data_source = args.data_source
        output = args.output
        s3 = S3Settings()
        name = "safe-synthesizer"
    if not data_source:
        raise ConfigError([], "no data source: give --data-source or use a manifest with spec.dataSource")
    output = output or os.environ.get(ENV_OUTPUT) or f"./safe-synthesizer-output/{name}"
    adapter = args.adapter or os.environ.get(ENV_ADAPTER_URL)
    mode = args.phase or ("generate" if adapter else "full")
    key = os.environ.get(ENV_PSEUDONYM_KEY)
    train_processes = getattr(args, "train_processes", 1)
    if train_processes < 1:
        raise ConfigError([], f"--train-processes must be at least 1, got {train_processes}")
    shard = _shard_from(args, params, mode)
    if shard is not None:
        from .sharding import shard_output

        adapter = adapter or output  # the training step published its adapter there
        output = shard_output(output, shard.index)
    options = RunOptions(
        data_source=data_source,
        output=output,
        s3=s3,
        mode=mode,
        adapter_source=adapter,
        hf_token=os.environ.get("HF_TOKEN"),
        pseudonym_key=key.encode() if key else None,
        device=args.device,
        job_name=name,
        shard=shard,
        shard_count=args.shards if mode == "merge" else None,
        train_processes=train_processes,
    )
    return params, options


def _shard_from(args: argparse.Namespace, params: Any, mode: str) -> Shard | None:
    """The generation shard this run is (``--shards``/``--shard-index``), or None; ConfigError when
    the command line asks for something impossible."""
    if args.shards is not None and args.shards < 1:
        raise ConfigError([], f"--shards must be at least 1, got {args.shards}")
    if mode == "merge" or (args.shards is None and args.shard_index is None):
        return None
    if mode != "generate":
        raise ConfigError([], "--shards/--shard-index need the generate phase: `run generate --shards N ...`")
    from .sharding import ENV_COMPLETION_INDEX, plan_shard

    count = args.shards or params.generation.shards
    index = args.shard_index
    if index is None:
        env_index = os.environ.get(ENV_COMPLETION_INDEX, "")
        if not env_index.isdigit():
            raise ConfigError(
                [], f"--shards needs --shard-index (or ${ENV_COMPLETION_INDEX}: an Indexed Job's pod)"
            )
        index = int(env_index)
    total = params.generation.num_records
    try:
        return plan_shard(total, count, index, run_seed(params))
    except ValueError as exc:
        raise ConfigError([], str(exc)) from exc


def cmd_run(args: argparse.Namespace) -> int:
    """Run the pipeline; returns the exit code (table in :mod:`safe_synthesizer.errors`)."""
    try:
        loaded = load_job_or_config(args.config)
        params, options = _options_from(args, loaded)
    except ConfigError as exc:
        print(f"invalid config: {exc}", file=sys.stderr)
        write_termination_message(failure_payload(Failure(EXIT_INVALID, "InvalidSpec", False), str(exc)))
        return EXIT_INVALID
    except OSError as exc:
        print(f"cannot read {args.config}: {exc}", file=sys.stderr)
        message = f"cannot read {args.config}: {exc}"
        write_termination_message(failure_payload(Failure(EXIT_INVALID, "InvalidInput", False), message))
        return EXIT_INVALID

    own_work = args.work_dir is None
    work = Path(args.work_dir) if args.work_dir else new_staging_dir()
    try:
        return _run_staged(args, params, options, work)
    finally:
        if own_work:  # everything worth keeping is published by now
            remove_staging_dir(work)


def _run_staged(args: argparse.Namespace, params: Any, options: Any, work: Path) -> int:
    """Run the pipeline with ``work`` as its staging folder; report the outcome or the failure."""
    from .pipeline import published_failure, run_pipeline
    from .progress import JsonLinesSink, ProgressHub, StatusFileSink, TerminalSink

    started = time.time()
    staging = work / "out"
    staging.mkdir(parents=True, exist_ok=True)
    options.work_dir = work
    logs_path = staging / "logs.jsonl"
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    json_handler = JsonLogHandler(logs_path)
    root.addHandler(json_handler)
    sinks: list[Any] = [JsonLinesSink(logs_path)]
    if not args.quiet:
        sinks.append(TerminalSink())
    status_file = os.environ.get(ENV_STATUS_FILE)
    if status_file:
        sinks.append(StatusFileSink(Path(status_file)))
    from .k8s_progress import KubernetesProgressSink  # in a pod: patches the CR's status.progress

    k8s_sink = KubernetesProgressSink.from_env()
    if k8s_sink is not None:
        sinks.append(k8s_sink)
    progress = ProgressHub(sinks)

    previous_handler = _stop_on_sigterm(options.stop_requested)
    try:
        outcome = run_pipeline(params, options, progress)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reason and an exit code
        return _report_failure(exc, published_failure(exc))
    finally:
        root.removeHandler(json_handler)
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    summary = outcome.summary
    write_termination_message(success_payload(outcome))
    print(
        f"\n{outcome.status}: {summary.get('rows_out', 0)} records in {time.time() - started:.0f}s -> "
        f"{outcome.output}"
    )
    for result in outcome.results:
        print(f"  {result.id:<24} {result.url}")
    for warning in summary.get("warnings", []):
        print(f"  warning: {warning}")
    return EXIT_OK


def _report_failure(exc: Exception, outcome: RunOutcome | None) -> int:
    """Print the failure, write its termination message; returns its exit code."""
    failure = classify_failure(exc)
    message = str(exc) or type(exc).__name__
    if failure.reason in ("InternalError", "OutOfMemory"):
        message = f"{type(exc).__name__}: {message}"
    summary_url = next((r.url for r in outcome.results if r.id == "summary"), None) if outcome else None
    if summary_url:
        message = f"{message} (details: {summary_url})"
    retry = "a retry may help" if failure.retryable else "a retry would fail the same way"
    print(f"failed ({failure.reason}, exit code {failure.exit_code}: {retry}): {message}", file=sys.stderr)
    if outcome is not None:
        for result in outcome.results:
            print(f"  {result.id:<24} {result.url}", file=sys.stderr)
    else:
        print("  (nothing was published: the output could not be written)", file=sys.stderr)
    write_termination_message(failure_payload(failure, message, outcome))
    return failure.exit_code
