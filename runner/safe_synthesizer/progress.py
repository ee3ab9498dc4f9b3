"""One progress interface for every stage.

Stages call ``progress.update(stage, step=..., total=..., message=..., **metrics)``. Sinks: the CLI
shows bars on a terminal, the runner writes JSON lines (``logs.jsonl``) and a status file the
operator mirrors into the CR. Messages and metrics must never contain raw records or PII.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

# Share of the whole job each stage stands for, to turn stage progress into one percentage.
STAGE_WEIGHTS: dict[str, float] = {
    "load": 2,
    "split": 1,
    "replace_pii": 7,
    "train": 55,
    "generate": 25,
    "evaluate": 8,
    "publish": 2,
}


@dataclass
class ProgressEvent:
    """One progress update."""

    stage: str
    step: int | None = None
    total: int | None = None
    message: str = ""
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    eta_seconds: float | None = None

    @property
    def fraction(self) -> float | None:
        """Progress of this stage in [0, 1], when known."""
        if self.step is None or not self.total:
            return None
        return max(0.0, min(1.0, self.step / self.total))


def overall_percent(stage: str, fraction: float | None) -> float:
    """Whole-job percentage from the current stage and its fraction done."""
    names = list(STAGE_WEIGHTS)
    total = sum(STAGE_WEIGHTS.values())
    if stage not in STAGE_WEIGHTS:
        return 0.0
    done = sum(STAGE_WEIGHTS[n] for n in names[: names.index(stage)])
    return round(100.0 * (done + STAGE_WEIGHTS[stage] * (fraction or 0.0)) / total, 1)


class Progress(Protocol):
    """What a stage needs: report where it is."""

    def update(
        self,
        stage: str,
        step: int | None = None,
        total: int | None = None,
        message: str = "",
        **metrics: float | int | str,
    ) -> None: ...


class NullProgress:
    """Discards updates (tests, library use)."""

    def update(
        self, stage: str, step: int | None = None, total: int | None = None, message: str = "", **metrics
    ):
        return None


class ProgressHub:
    """Fans updates out to sinks and estimates the ETA per stage."""

    def __init__(self, sinks: list[Callable[[ProgressEvent], None]] | None = None) -> None:
        self.sinks = list(sinks or [])
        self._stage_start: dict[str, float] = {}
        self._lock = threading.Lock()
        self.last: ProgressEvent | None = None

    def update(
        self,
        stage: str,
        step: int | None = None,
        total: int | None = None,
        message: str = "",
        **metrics: float | int | str,
    ) -> None:
        """Record an update and pass it to every sink."""
        now = time.time()
        with self._lock:
            start = self._stage_start.setdefault(stage, now)
            event = ProgressEvent(stage, step, total, message, dict(metrics), now)
            if event.fraction and event.fraction > 0:
                event.eta_seconds = round((now - start) * (1 - event.fraction) / event.fraction, 1)
            self.last = event
            for sink in self.sinks:
                sink(event)


class JsonLinesSink:
    """Appends events as JSON lines (``logs.jsonl``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, event: ProgressEvent) -> None:
        record = {
            "event": "progress",
            **asdict(event),
            "percent": overall_percent(event.stage, event.fraction),
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")


class StatusFileSink:
    """Keeps a small JSON file with the latest progress (read by the operator side)."""

    def __init__(self, path: Path, min_interval: float = 1.0) -> None:
        self.path = path
        self.min_interval = min_interval
        self._last_write = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        now = time.time()
        if now - self._last_write < self.min_interval and event.fraction not in (0.0, 1.0, None):
            return
        self._last_write = now
        payload = {
            "stage": event.stage,
            "percent": overall_percent(event.stage, event.fraction),
            "message": event.message,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        tmp.replace(self.path)


class TerminalSink:
    """A one-line progress bar per stage on a terminal; plain lines otherwise."""

    def __init__(self, stream: TextIO | None = None, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._current: str | None = None
        self._last_plain = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        fraction = event.fraction
        bar = ""
        if fraction is not None:
            filled = int(self.width * fraction)
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {event.step}/{event.total}"
        extras = " ".join(f"{k}={_fmt(v)}" for k, v in event.metrics.items())
        eta = (
            f" eta {event.eta_seconds:.0f}s"
            if event.eta_seconds is not None and fraction not in (None, 1.0)
            else ""
        )
        line = f"{event.stage:<11} {bar} {event.message} {extras}{eta}".rstrip()
        if self.tty:
            end = "\n" if fraction in (None, 1.0) else ""
            if self._current and self._current != event.stage:
                self.stream.write("\n")
            self.stream.write("\r\033[K" + line + end)
            self._current = None if end else event.stage
        else:
            now = time.time()
            if fraction in (None, 0.0, 1.0) or now - self._last_plain > 10:
                self.stream.write(line + "\n")
                self._last_plain = now
        self.stream.flush()


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
