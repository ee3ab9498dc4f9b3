"""``safe-synthesizer run``: the pipeline from the command line (and inside the runner pod).

``run --config job.yaml`` runs everything; ``run train`` stops after saving the adapter;
``run generate --adapter <earlier output>`` generates (and evaluates) with an earlier adapter.
The config may be a ``SafeSynthesizerJob`` manifest (its ``dataSource``/``output``/``s3`` are used)
or a bare config (then ``--data-source`` and ``--output`` say where).

Exit codes: 0 success (also with partial results: the termination message says ``partial``),
1 bad input or config (do not retry), 3 transient or internal failure (retry may help).
The termination message (``$SAFE_SYNTH_TERMINATION_LOG``, default ``/dev/termination-log`` when
writable) is compact JSON under 4 KiB: status, results, scores, epsilonSpent, message.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from .config import ConfigError, S3Settings, SafeSynthesizerJob, load_job_or_config

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_TRANSIENT = 3
TERMINATION_LIMIT = 4000

log = logging.getLogger("safe_synthesizer")


def add_run_parser(sub: Any) -> None:
    """Register ``run`` on the top-level parser."""
    run = sub.add_parser("run", help="run the pipeline (or one half: train, generate)")
    run.add_argument("phase", nargs="?", choices=["train", "generate"], help="only train, or only generate")
    run.add_argument(
        "--config", "-c", required=True, help="SafeSynthesizerJob manifest or bare config (YAML/JSON)"
    )
    run.add_argument("--data-source", help="input table (overrides spec.dataSource)")
    run.add_argument("--output", "-o", help="output directory or s3:// prefix (overrides spec.output)")
    run.add_argument("--adapter", help="generation only: an earlier output (prefix or folder) with adapter/")
    run.add_argument("--device", choices=["cpu", "cuda"], help="default: cuda when available")
    run.add_argument("--work-dir", help="local staging folder (default: a temporary one)")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


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


def write_termination_message(payload: dict[str, Any]) -> None:
    """Compact JSON for the operator (Kubernetes termination message)."""
    path = os.environ.get("SAFE_SYNTH_TERMINATION_LOG", "/dev/termination-log")
    target = Path(path)
    if not target.parent.exists() or (not target.exists() and path == "/dev/termination-log"):
        return
    text = json.dumps(payload, separators=(",", ":"), default=str)
    if len(text) > TERMINATION_LIMIT:  # drop bulky parts first, keep status and the reason
        payload = {k: payload[k] for k in ("status", "scores", "epsilonSpent", "message") if k in payload}
        payload["results"] = [{"id": "summary", "url": payload.get("summaryUrl", "")}]
        text = json.dumps(payload, separators=(",", ":"), default=str)[:TERMINATION_LIMIT]
    try:
        target.write_text(text, encoding="utf-8")
    except OSError:
        log.warning("cannot write the termination message to %s", path)


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
    output = output or os.environ.get("SAFE_SYNTH_OUTPUT") or f"./safe-synthesizer-output/{name}"
    adapter = args.adapter or os.environ.get("SAFE_SYNTH_ADAPTER_URL")
    mode = args.phase or ("generate" if adapter else "full")
    key = os.environ.get("SAFE_SYNTH_PSEUDONYM_KEY")
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
    )
    return params, options


def cmd_run(args: argparse.Namespace) -> int:
    """Run the pipeline; returns the exit code."""
    from .errors import TransientError, UserInputError
    from .progress import JsonLinesSink, ProgressHub, StatusFileSink, TerminalSink

    started = time.time()
    try:
        loaded = load_job_or_config(args.config)
        params, options = _options_from(args, loaded)
    except ConfigError as exc:
        print(f"invalid config: {exc}", file=sys.stderr)
        write_termination_message({"status": "failed", "reason": "InvalidSpec", "message": str(exc)[:3000]})
        return EXIT_INVALID
    except OSError as exc:
        print(f"cannot read {args.config}: {exc}", file=sys.stderr)
        return EXIT_INVALID

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="safe-synth-"))
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
    status_file = os.environ.get("SAFE_SYNTH_STATUS_FILE")
    if status_file:
        sinks.append(StatusFileSink(Path(status_file)))
    from .k8s_progress import KubernetesProgressSink  # in a pod: patches the CR's status.progress

    k8s_sink = KubernetesProgressSink.from_env()
    if k8s_sink is not None:
        sinks.append(k8s_sink)
    progress = ProgressHub(sinks)

    from .pipeline import run_pipeline

    previous_handler = _stop_on_sigterm(options.stop_requested)
    try:
        outcome = run_pipeline(params, options, progress)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        write_termination_message({"status": "failed", "reason": "InvalidInput", "message": str(exc)[:3000]})
        return EXIT_INVALID
    except TransientError as exc:
        print(f"transient failure (a retry may help): {exc}", file=sys.stderr)
        write_termination_message({"status": "failed", "reason": "Transient", "message": str(exc)[:3000]})
        return EXIT_TRANSIENT
    except Exception as exc:  # noqa: BLE001 - report every failure as a reason, then exit non-zero
        log.exception("pipeline failed")
        print(f"failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        write_termination_message(
            {"status": "failed", "reason": type(exc).__name__, "message": str(exc)[:3000]}
        )
        return EXIT_TRANSIENT
    finally:
        root.removeHandler(json_handler)
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    summary = outcome.summary
    privacy = summary.get("privacy") or {}
    write_termination_message(
        {
            "status": outcome.status,
            "results": [r.model_dump(exclude_none=True) for r in outcome.results],
            "scores": summary.get("scores"),
            "epsilonSpent": privacy.get("epsilon_spent"),
            "message": summary.get("partial_reason") or f"{summary.get('rows_out', 0)} records",
        }
    )
    print(
        f"\n{outcome.status}: {summary.get('rows_out', 0)} records in {time.time() - started:.0f}s -> "
        f"{outcome.output}"
    )
    for result in outcome.results:
        print(f"  {result.id:<24} {result.url}")
    for warning in summary.get("warnings", []):
        print(f"  warning: {warning}")
    return EXIT_OK
