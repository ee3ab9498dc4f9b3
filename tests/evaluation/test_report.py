"""The HTML report: self-contained, aggregates only, and it renders in a real browser (headless
Chromium, no network) without console errors."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from evaluation_tables import population, with_text

from safe_synthesizer.config.parameters import EvaluationParameters
from safe_synthesizer.evaluation import EvaluationResult, PiiReplayInput, evaluate, render_report

KEY_LABELS = (
    "Overview",
    "Synthetic Quality Score (SQS)",
    "Data Privacy Score (DPS)",
    "Dataset statistics",
    "Synthetic quality",
    "Column Distribution Stability",
    "Column Correlation Stability",
    "Deep Structure Stability",
    "Correlations",
    "Deep structure (PCA)",
    "Column distributions",
    "Text",
    "Privacy",
    "Membership inference",
    "Distance to closest record",
    "Attribute inference",
    "PII replay",
    "Differential privacy",
    "Utility (train synthetic, test real)",
)
SECRET_EMAIL = "very.secret.person@example.com"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[EvaluationResult, str, Path]:
    rng = np.random.default_rng(0)
    train = with_text(population(500, 1), 1)
    holdout = with_text(population(250, 2), 2)
    syn = with_text(population(500, 3), 3)
    emails = [f"user{i}@example.com" for i in range(500)]
    emails[17] = SECRET_EMAIL
    train["email"] = emails
    syn["email"] = [emails[i] if i < 5 else f"other{i}@example.org" for i in range(500)]
    holdout["email"] = [f"h{i}@example.net" for i in range(250)]
    train["patient_id"] = [f"PID-{rng.integers(1e9)}" for _ in range(500)]
    syn["patient_id"] = [f"PID-{rng.integers(1e9)}" for _ in range(500)]
    holdout["patient_id"] = [f"PID-{rng.integers(1e9)}" for _ in range(250)]
    pii = PiiReplayInput(column_entities={"email": "email_address"}, text_values={"person": {"Ann Lee"}})
    result = evaluate(
        train,
        holdout,
        syn,
        EvaluationParameters(target_column="group"),
        pii_replay=pii,
        dp_ledger={"epsilon_spent": 7.9, "delta": 1e-5, "accountant": "prv", "noise_multiplier": 0.9},
    )
    html = render_report(result, "Test <report> & co")
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html, encoding="utf-8")
    return result, html, path, train


def test_report_is_self_contained(report):
    _result, html, _path, _train = report
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html
    # no external references at all: only the SVG namespace URI appears
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "Test &lt;report&gt; &amp; co" in html
    for label in KEY_LABELS:
        assert label.replace("&", "&amp;") in html, label


def test_report_contains_no_training_records(report):
    _result, html, _path, train = report
    assert SECRET_EMAIL not in html
    assert "user3@example.com" not in html
    assert not any(pid in html for pid in train["patient_id"])
    notes = train["notes"].tolist()
    assert not any(note in html for note in notes)
    # exact numeric cells do not appear either
    assert not any(f"{v}" in html for v in train["income"].head(50))
    # PII replay is reported as counts with the entity type
    assert "email_address" in html


def _png_pixels_vary(png: bytes) -> bool:
    """True when the PNG's decoded scanlines hold more than a handful of distinct byte values."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", data[:8])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert width > 500 and height > 500
    return len(set(raw[:: max(1, len(raw) // 200_000)])) > 30


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
    # no network: every host name fails to resolve and any proxying goes nowhere
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--enable-logging=stderr",
    "--v=0",
)


def test_report_renders_in_headless_chromium(report, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    _result, _html, path, _train = report
    url = path.as_uri()
    shot = tmp_path / "report.png"
    env = {**os.environ, "HOME": str(tmp_path)}
    common = [browser, *CHROMIUM_FLAGS]
    run = subprocess.run(
        [
            *common,
            f"--user-data-dir={tmp_path / 'p1'}",
            "--window-size=1280,2400",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert shot.exists(), run.stderr[-2000:]
    png = shot.read_bytes()
    assert len(png) > 20_000
    assert _png_pixels_vary(png), "the screenshot is blank"
    dom = subprocess.run(
        [*common, f"--user-data-dir={tmp_path / 'p2'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for label in KEY_LABELS:
        assert label.replace("&", "&amp;") in dom.stdout, label
    assert dom.stdout.count("<svg") >= 10
    logs = run.stderr + dom.stderr
    for bad in ("Uncaught", ":CONSOLE", "net::ERR", "Refused to", "Failed to load resource"):
        assert bad not in logs, [line for line in logs.splitlines() if bad in line][:5]
    keep = os.environ.get("EVAL_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
