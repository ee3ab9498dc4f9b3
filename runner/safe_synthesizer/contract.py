"""The runner ↔ operator ↔ SDK contract: one place for what crosses a process boundary.

Importing this module never imports torch (only pydantic and :mod:`safe_synthesizer.config`).

* **Environment** the operator gives the runner pod (``SAFE_SYNTH_*`` names, :data:`ENV_*`), plus
  the runner-local knobs of the same family, so no side spells a name by hand.
* **Termination message** (:class:`TerminationMessage`): the compact JSON the runner writes to
  ``$SAFE_SYNTH_TERMINATION_LOG`` (Kubernetes' ``terminationMessagePath``) and the operator copies
  into the ``SafeSynthesizerJob`` status. Wire keys (camelCase, unchanged since v1alpha1)::

      {"status": "succeeded|partial|failed", "results": [ResultRef...], "scores": {"sqs", "dps"},
       "epsilonSpent": 7.9, "message": "...", "warnings": ["..."],   # warnings only when any
       "reason": "NoValidRecords", "exitCode": 4, "retryable": false,   # failed runs only
       "shard": {"index": 2, "count": 4, "seed": 123, "records": 250}}   # generation shards only

  A key is written only when the writer set it (a succeeded run writes ``scores``/``epsilonSpent``
  even when null, a failed one never writes ``scores``), so the bytes stay what they were before
  this module existed. :meth:`TerminationMessage.to_text` keeps it under :data:`TERMINATION_LIMIT`;
  :func:`parse_termination_message` is the lenient reader (a log tail, malformed entries).
* **Result references** (:class:`ResultRef`, the seeds' results API shape) and the **results
  index** (:class:`ResultsIndex`, ``results.json`` next to ``summary.json`` in the job's output).
* **Progress** (:class:`Progress`): ``status.progress`` of the CR, ``{stage, percent, message,
  updatedAt}``, patched by the runner and read by the operator and the SDK
  (:func:`progress_status`).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .config.job import Progress, ResultRef, Scores

__all__ = [
    "DEFAULT_TERMINATION_LOG",
    "ENV_ADAPTER_URL",
    "ENV_CACHE",
    "ENV_CPU_MODEL",
    "ENV_CR_NAME",
    "ENV_CR_NAMESPACE",
    "ENV_CR_UID",
    "ENV_OUTPUT",
    "ENV_PII_WORKERS",
    "ENV_PSEUDONYM_KEY",
    "ENV_STATUS_FILE",
    "ENV_TERMINATION_LOG",
    "ENV_THREADS",
    "LOGS_FILE",
    "MAX_MESSAGE",
    "MAX_RESULTS",
    "MAX_WARNING",
    "MAX_WARNINGS",
    "RESULTS_INDEX_FILE",
    "RUN_STATUSES",
    "SUMMARY_FILE",
    "TERMINATION_LIMIT",
    "Progress",
    "ResultRef",
    "ResultsIndex",
    "RunStatus",
    "Scores",
    "ShardReport",
    "TerminationMessage",
    "cap_warnings",
    "parse_result_ref",
    "parse_shard_report",
    "parse_termination_message",
    "progress_status",
    "termination_text",
]

# -- environment ---------------------------------------------------------------------------------

#: Where the runner writes its termination message (the operator sets the pod's path).
ENV_TERMINATION_LOG = "SAFE_SYNTH_TERMINATION_LOG"
#: Model, S3-object and converted-model cache folder.
ENV_CACHE = "SAFE_SYNTH_CACHE"
#: The CR the runner patches ``status.progress`` of (name, namespace, uid): set by the operator.
ENV_CR_NAME = "SAFE_SYNTH_CR_NAME"
ENV_CR_NAMESPACE = "SAFE_SYNTH_CR_NAMESPACE"
ENV_CR_UID = "SAFE_SYNTH_CR_UID"
#: An earlier job's output with ``adapter/`` (``pretrainedModelJob``): generation only.
ENV_ADAPTER_URL = "SAFE_SYNTH_ADAPTER_URL"
#: Key of the keyed pseudonyms of PII replacement (from ``spec.pseudonymKeySecret``).
ENV_PSEUDONYM_KEY = "SAFE_SYNTH_PSEUDONYM_KEY"
#: Default output when neither ``--output`` nor ``spec.output`` says.
ENV_OUTPUT = "SAFE_SYNTH_OUTPUT"
#: A local JSON file the runner keeps with its newest progress (:class:`Progress` keys).
ENV_STATUS_FILE = "SAFE_SYNTH_STATUS_FILE"
#: Runner-local knobs: CPU threads, PII worker processes, the CPU default model.
ENV_THREADS = "SAFE_SYNTH_THREADS"
ENV_PII_WORKERS = "SAFE_SYNTH_PII_WORKERS"
ENV_CPU_MODEL = "SAFE_SYNTH_CPU_MODEL"

DEFAULT_TERMINATION_LOG = "/dev/termination-log"

# -- limits and names ----------------------------------------------------------------------------

#: Kubernetes keeps at most 4 KiB of a termination message; the runner stays under this.
TERMINATION_LIMIT = 4000
#: The longest message the operator copies into the status.
MAX_MESSAGE = 4000
#: The most result references a status holds (the CRD's ``maxItems``).
MAX_RESULTS = 64
SUMMARY_FILE = "summary.json"
RESULTS_INDEX_FILE = "results.json"
LOGS_FILE = "logs.jsonl"

RunStatus = Literal["succeeded", "partial", "failed"]
RUN_STATUSES: tuple[str, ...] = ("succeeded", "partial", "failed")

# Keys of a termination message, in the order they were always written.
_WIRE_KEYS = (
    "status",
    "reason",
    "exitCode",
    "retryable",
    "results",
    "scores",
    "epsilonSpent",
    "message",
    "warnings",
    "shard",
)
#: At most this many run warnings travel in a termination message, each cut to MAX_WARNING characters.
MAX_WARNINGS = 10
MAX_WARNING = 300


class ShardReport(BaseModel):
    """What one generation shard (``run generate --shards N``) made: the operator's per-shard status."""

    model_config = ConfigDict(extra="ignore")

    index: int = Field(..., ge=0, description="The shard (the Indexed Job's completion index).")
    count: int = Field(..., ge=1, description="How many shards the run has.")
    seed: int | None = Field(None, ge=0, description="The shard's generation seed.")
    records: int | None = Field(None, ge=0, description="Valid records the shard published.")


def parse_shard_report(value: Any) -> ShardReport | None:
    """A termination message's ``shard`` read leniently; None when absent or malformed."""
    if not isinstance(value, dict):
        return None
    try:
        return ShardReport.model_validate(value)
    except ValueError:
        return None


class TerminationMessage(BaseModel):
    """The runner's termination message (see the module docstring for the wire format).

    ``is_json`` is not on the wire: False when the reader found a plain-text log tail
    (``FallbackToLogsOnError``) instead, kept as ``message``."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    status: str | None = Field(None, description="succeeded, partial or failed (the run's status).")
    reason: str | None = Field(None, description="Why it failed: InvalidInput, NoValidRecords, ...")
    exitCode: int | None = Field(None, description="The runner's exit code (safe_synthesizer.errors).")
    retryable: bool | None = Field(None, description="Whether a retry may help (exit code 3).")
    results: list[ResultRef] = Field(default_factory=list, description="What the run published.")
    scores: Scores | None = Field(None, description="SQS and DPS, 0-10.")
    epsilonSpent: float | None = Field(None, ge=0, description="DP epsilon actually spent.")
    message: str | None = Field(None, description="Human-readable summary or failure.")
    warnings: list[str] = Field(
        default_factory=list,
        description="The run's warnings (accepted-only config fields, PII columns left unchanged, ...): "
        f"at most {MAX_WARNINGS}, each at most {MAX_WARNING} characters; written only when there are any.",
    )
    shard: ShardReport | None = Field(None, description="Generation shards only: what this shard made.")
    is_json: bool = Field(True, exclude=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object the runner writes: only the keys set, results without null fields."""
        data: dict[str, Any] = {}
        for key in _WIRE_KEYS:
            if key not in self.model_fields_set:
                continue
            value = getattr(self, key)
            if key == "results":
                value = [r.model_dump(exclude_none=True) for r in value]
            elif key in ("scores", "shard") and value is not None:
                value = value.model_dump()
            data[key] = value
        return data

    def to_text(self) -> str:
        """Compact JSON of at most :data:`TERMINATION_LIMIT` characters (:func:`termination_text`)."""
        return termination_text(self.to_wire())

    def results_status(self) -> list[dict[str, Any]]:
        """The results as the CR status holds them (``sizeBytes`` only when known)."""
        return [r.model_dump(exclude_none=True) for r in self.results]

    def scores_status(self) -> dict[str, float] | None:
        """``{sqs, dps}`` as the CR status holds them: only the scores that exist; None when none."""
        if self.scores is None:
            return None
        kept = {k: v for k, v in self.scores.model_dump().items() if v is not None}
        return kept or None


def termination_text(payload: dict[str, Any]) -> str:
    """``payload`` as compact JSON of at most :data:`TERMINATION_LIMIT` characters: when too long, the
    bulky parts go first (scores and status stay, results shrink to the summary, logs and canonical
    data links), then the message is shortened; the text always stays valid JSON."""
    text = json.dumps(payload, separators=(",", ":"), default=str)
    if len(text) <= TERMINATION_LIMIT:
        return text
    slim = {
        k: payload[k]
        for k in ("status", "reason", "scores", "epsilonSpent", "message", "shard")
        if k in payload
    }
    kept = [
        {k: r[k] for k in ("id", "format", "canonical", "url") if k in r}
        for r in payload.get("results") or []
        if isinstance(r, dict) and (r.get("id") in ("summary", "logs") or r.get("canonical"))
    ]
    slim["results"] = kept
    text = json.dumps(slim, separators=(",", ":"), default=str)
    if len(text) > TERMINATION_LIMIT and isinstance(slim.get("message"), str):
        message = slim["message"]
        slim["message"] = message[: max(0, len(message) - (len(text) - TERMINATION_LIMIT) - 3)] + "..."
        text = json.dumps(slim, separators=(",", ":"), default=str)
    if len(text) > TERMINATION_LIMIT:  # very long URLs: keep the status and the reason
        slim = {k: slim[k] for k in ("status", "reason") if k in slim}
        text = json.dumps(slim, separators=(",", ":"), default=str)
    return text


def _number(value: Any) -> float | None:
    """A finite JSON number as float (bools excluded); None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def parse_result_ref(item: Any) -> ResultRef | None:
    """One result entry read leniently (fields cut to the CRD's limits); None without id and url."""
    if not isinstance(item, dict) or not item.get("id") or not item.get("url"):
        return None
    size = item.get("sizeBytes")
    return ResultRef(
        id=str(item["id"])[:253],
        format=str(item.get("format") or "unknown")[:32],
        canonical=bool(item.get("canonical", False)),
        url=str(item["url"])[:4096],
        sizeBytes=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
    )


def _scores(value: Any) -> Scores | None:
    if not isinstance(value, dict):
        return None
    found = {k: _number(value.get(k)) for k in ("sqs", "dps")}
    found = {k: v for k, v in found.items() if v is not None}
    return Scores(**found) if found else None


def parse_termination_message(text: str | None) -> TerminationMessage | None:
    """The reader's side: never raises. None for an empty text; a non-JSON text (a log tail) is
    kept as ``message`` (its last :data:`MAX_MESSAGE` characters) with ``is_json=False``.
    Malformed result entries are dropped, at most :data:`MAX_RESULTS` kept; scores keep numbers
    only; a negative or non-numeric ``epsilonSpent`` is dropped."""
    if text is None or not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        return TerminationMessage(message=text.strip()[-MAX_MESSAGE:], is_json=False)
    results = [ref for ref in (parse_result_ref(item) for item in data.get("results") or []) if ref]
    epsilon = _number(data.get("epsilonSpent"))
    message = data.get("message")
    exit_code = data.get("exitCode")
    retryable = data.get("retryable")
    return TerminationMessage(
        status=str(data["status"]) if data.get("status") is not None else None,
        reason=str(data["reason"]) if data.get("reason") else None,
        exitCode=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        retryable=retryable if isinstance(retryable, bool) else None,
        results=results[:MAX_RESULTS],
        scores=_scores(data.get("scores")),
        epsilonSpent=epsilon if epsilon is not None and epsilon >= 0 else None,
        message=str(message)[:MAX_MESSAGE] if message is not None else None,
        warnings=cap_warnings(data.get("warnings")),
        shard=parse_shard_report(data.get("shard")),
    )


def cap_warnings(warnings: Any) -> list[str]:
    """Run warnings as a termination message carries them: strings only, at most
    :data:`MAX_WARNINGS`, each cut to :data:`MAX_WARNING` characters."""
    if not isinstance(warnings, list):
        return []
    kept = [str(w) for w in warnings if isinstance(w, str) and w.strip()]
    return [w if len(w) <= MAX_WARNING else w[: MAX_WARNING - 3] + "..." for w in kept[:MAX_WARNINGS]]


class ResultsIndex(BaseModel):
    """``results.json``: the index every run (failed ones too) publishes to its output."""

    model_config = ConfigDict(extra="ignore")

    status: str = Field(..., description="succeeded, partial or failed.")
    results: list[ResultRef] = Field(default_factory=list)
    scores: dict[str, float | None] | None = None
    reason: str | None = Field(None, description="Failed runs: why.")
    message: str | None = Field(None, description="Failed runs: what happened.")

    def to_wire(self) -> dict[str, Any]:
        """The JSON object written to ``results.json`` (``reason``/``message`` only when failed)."""
        data: dict[str, Any] = {
            "status": self.status,
            "results": [r.model_dump() for r in self.results],
            "scores": self.scores,
        }
        for key in ("reason", "message"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def canonical(self) -> ResultRef | None:
        """The canonical table (``synthetic_data``), if the run published one."""
        return next((r for r in self.results if r.canonical), None)


def progress_status(
    stage: str | None, percent: float | None, message: str | None, updated_at: str | None
) -> dict[str, Any]:
    """``status.progress`` as the runner patches it and the operator writes it: ``stage`` cut to
    64 characters, ``percent`` clamped to 0-100, ``message`` to 1024 (:class:`Progress` checks)."""
    clamped = None if percent is None else max(0.0, min(100.0, float(percent)))
    return Progress(
        stage=None if stage is None else stage[:64],
        percent=clamped,
        message=None if message is None else message[:1024],
        updatedAt=updated_at,
    ).model_dump()
