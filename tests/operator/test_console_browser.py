"""The web console in a real headless browser (Debian's chromium, driven by selenium through
chromedriver) against the real control plane, the operator, the real runner and the loopback S3.

* ``test_wizard_list_details_report_bulk_delete``: the console as ``make console`` runs it (the
  admin's kubeconfig): create a job through the wizard with a file upload, see it listed with its
  status, open its details with live progress and the report, then bulk-delete it with two others.
* ``test_a_user_without_rights_sees_an_error_not_other_teams_jobs``: the console as the chart runs
  it (gunicorn, token sign-in): a ServiceAccount bound to the editor role in ``team-a`` only sees
  team-a's jobs and gets the API server's refusal for ``team-b``, whose job never shows.

Screenshots are saved by the tests into ``$SAFE_SYNTH_SCREENSHOT_DIR`` (default: a temporary
folder, printed); ``make console-screenshots`` writes them to ``docs/console/`` for the README.
Needs ``make system-deps`` (chromium, chromium-driver) and ``make cluster-bins``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ROOT, SMALL_CONFIG, OperatorProcess, Release, demo_slice, free_port, wait_for

from safe_synthesizer.sdk import NotFound, SafeSynthesizerClient

pytestmark = pytest.mark.cluster

BUCKET = "safe-synth-demo"
JOB_TIMEOUT = 300
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = os.environ.get("SAFE_SYNTH_SCREENSHOT_DIR")
    path = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="console-screenshots-"))
    path.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots: {path}")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium with a fresh profile and nothing that reaches the network by itself."""
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.fail("chromium and chromedriver are needed: run `make system-deps`", pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="console-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1360,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def operator(release: Release, demo_data: str) -> Iterator[OperatorProcess]:
    process = release.operator(
        SSO_RESYNC_SECONDS="3",
        SSO_WAIT_SECONDS="2",
        SSO_DEFAULT_OUTPUT=f"s3://{BUCKET}/console-output/",
        SSO_DEFAULT_S3_SECRET="s3-credentials",
    ).start()
    yield process
    process.stop()


class ConsoleProcess:
    """The console as a child process (``python -m safe_synthesizer.console`` or gunicorn)."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        log = log_path.open("ab")
        self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
        log.close()

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the console exited {self.proc.returncode}: {log_path.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    return answer.status == 200
            except OSError:
                return False

        wait_for(ready, 60, "the console's /healthz")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _console_env(release: Release, **extra: str) -> dict[str, str]:
    from s3_server import REGION, TEST_ACCESS_KEY, TEST_SECRET_KEY

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSC_", "AWS_", "KUBECONFIG"))}
    env.update(
        SSC_UPLOAD_PREFIX=f"s3://{BUCKET}/console-uploads/",
        SSC_S3_ENDPOINT=release.s3_endpoint,
        SSC_S3_ADDRESSING_STYLE="path",
        SSC_SECRET_KEY="console-browser-test",
        # CPU-sized jobs for this test (the platform team's defaults in the chart's console.jobDefaults)
        SSC_JOB_DEFAULTS=json.dumps(
            {
                "resources": {"gpu": 0},
                "config": {
                    "training": SMALL_CONFIG["training"],
                    "generation": {"use_structured_generation": True},
                },
            }
        ),
        AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=TEST_SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def _venv_bin(name: str) -> str:
    import sys

    return str(Path(sys.executable).with_name(name))


def _by_id(browser: Any, element_id: str, timeout: float = 30) -> Any:
    """The element with ``element_id`` once the page that has it is loaded."""
    from selenium.webdriver.common.by import By

    return wait_for(
        lambda: next(iter(browser.find_elements(By.ID, element_id)), None),
        timeout,
        f"#{element_id} on the page",
    )


def _wait_text(browser: Any, css: str, text: str, timeout: float = 30) -> Any:
    from selenium.webdriver.common.by import By

    def found() -> Any:
        elements = browser.find_elements(By.CSS_SELECTOR, css)
        return next((e for e in elements if text in e.text), None)

    return wait_for(found, timeout, f"{text!r} in {css}")


def test_wizard_list_details_report_bulk_delete(
    release: Release, operator: OperatorProcess, browser: Any, screenshots: Path, tmp_path: Path
) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    admin = SafeSynthesizerClient(namespace=release.namespace, kubeconfig=release.cluster.kubeconfig)
    for name in ("console-extra-1", "console-extra-2"):
        admin.jobs.create(name=name, spec={"dataSource": f"s3://{BUCKET}/input/demo.csv", "suspend": True})
    console = ConsoleProcess(
        [_venv_bin("python"), "-m", "safe_synthesizer.console", "--port", str(port := free_port())],
        _console_env(
            release,
            SSC_AUTH="kubeconfig",
            SSC_KUBECONFIG=str(release.cluster.kubeconfig),
            SSC_NAMESPACE=release.namespace,
        ),
        port,
        release.cluster.plane.logs_dir / "console.log",
    )
    table = tmp_path / "customers.csv"
    table.write_bytes(demo_slice())
    rows = table.read_text().splitlines()[1:4]
    try:
        browser.get(console.url + "/")
        assert browser.current_url.endswith(f"/namespaces/{release.namespace}/jobs")
        browser.find_element(By.ID, "create-job").click()

        # the wizard: a page error first (a field named in its message), then the real job
        browser.find_element(By.ID, "name").send_keys("Console_Wizard")
        browser.find_element(By.ID, "review").click()
        errors = _by_id(browser, "field-name").text
        assert "Job name: lower-case letters" in errors
        assert "Dataset: upload a CSV" in browser.find_element(By.ID, "field-dataset_url").text
        name = browser.find_element(By.ID, "name")
        name.clear()
        name.send_keys("console-wizard")
        browser.find_element(By.ID, "project").send_keys("demo")
        browser.find_element(By.ID, "dataset_file").send_keys(str(table))
        records = browser.find_element(By.ID, "num_records")
        records.clear()
        records.send_keys("10")
        browser.find_element(By.CSS_SELECTOR, "details.advanced summary").click()
        browser.find_element(By.ID, "temperature").send_keys("0.9")
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(screenshots / "console-wizard.png"))
        browser.find_element(By.ID, "review").click()

        review = _by_id(browser, "review-table").text
        uploaded = f"s3://{BUCKET}/console-uploads/{release.namespace}/console-wizard/input/customers.csv"
        assert uploaded in review and "Standard" in review
        body = release.s3.get_object(  # type: ignore[attr-defined]
            Bucket=BUCKET, Key=f"console-uploads/{release.namespace}/console-wizard/input/customers.csv"
        )["Body"].read()
        assert body == table.read_bytes()
        browser.save_screenshot(str(screenshots / "console-review.png"))
        browser.find_element(By.ID, "submit-job").click()

        # details: live progress while it runs, then the report inline
        assert browser.current_url.endswith(f"/namespaces/{release.namespace}/jobs/console-wizard")
        created = admin.jobs.retrieve("console-wizard")
        assert created.spec["dataSource"] == uploaded and created.project == "demo"
        generation = created.spec["config"]["generation"]  # the CRD fills in the defaults
        assert generation["num_records"] == 10 and generation["temperature"] == 0.9
        stages: set[str] = set()

        def finished() -> bool:
            try:  # the page reloads itself when the phase changes
                status = browser.find_element(By.ID, "status").text
                stage = browser.find_element(By.ID, "stage").text
            except WebDriverException:
                return False
            if stage and status == "active":
                if not stages:
                    browser.save_screenshot(str(screenshots / "console-progress.png"))
                stages.add(stage)
            return status in ("completed", "error", "cancelled")

        wait_for(finished, JOB_TIMEOUT, "the job to finish on the details page", interval=1.0)
        browser.refresh()
        assert _by_id(browser, "status").text == "completed", browser.find_element(By.ID, "message").text
        assert stages, "no live stage was shown while the job ran"
        progress_text = browser.find_element(By.ID, "progress").text
        assert "SQS / DPS" in progress_text and "/" in browser.find_element(By.ID, "scores").text
        downloads = browser.find_element(By.ID, "downloads").text
        assert "synthetic_data" in downloads and "evaluation_report" in downloads
        link = browser.find_element(By.CSS_SELECTOR, "tr[data-result=synthetic_data] a").get_attribute("href")
        with urllib.request.urlopen(link, timeout=30) as answer:
            assert "attachment" in answer.headers["Content-Disposition"]
            assert len(answer.read().decode().strip().splitlines()) == 11
        assert "succeeded" in browser.find_element(By.ID, "logs").text
        frame = browser.find_element(By.ID, "report-frame")
        browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.ID, "report"))
        browser.switch_to.frame(frame)
        report_text = wait_for(
            lambda: browser.find_element(By.TAG_NAME, "body").text, 30, "the report's text"
        )
        browser.switch_to.default_content()
        assert "Synthetic Quality Score" in report_text and "Data Privacy Score" in report_text, report_text[
            :500
        ]
        time.sleep(1)  # let the frame paint before the screenshot
        browser.save_screenshot(str(screenshots / "console-report.png"))
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(screenshots / "console-details.png"))
        detail_html = browser.page_source

        # the list: status and scores
        browser.find_element(By.LINK_TEXT, f"All jobs in {release.namespace}").click()
        row = browser.find_element(By.CSS_SELECTOR, "tr[data-job=console-wizard]")
        assert "completed" in row.text and "customers.csv" in row.text and "Report" in row.text
        assert "pending" in browser.find_element(By.CSS_SELECTOR, "tr[data-job=console-extra-1]").text
        browser.save_screenshot(str(screenshots / "console-jobs.png"))
        for page in (detail_html, browser.page_source):
            for record in rows:
                assert record not in page, "a record of the table is on a page"

        # bulk delete: three selected, confirmed, gone
        for name in ("console-wizard", "console-extra-1", "console-extra-2"):
            browser.find_element(By.CSS_SELECTOR, f"input[name=selected][value={name}]").click()
        browser.find_element(By.ID, "delete-selected").click()
        assert sorted(_by_id(browser, "to-delete").text.split("\n")) == [
            "console-extra-1",
            "console-extra-2",
            "console-wizard",
        ]
        browser.find_element(By.ID, "confirm-delete").click()
        _wait_text(browser, ".flash.ok", "Deleted 3 job(s)")
        assert not browser.find_elements(By.CSS_SELECTOR, "tr[data-job]") or all(
            "console-" not in r.get_attribute("data-job")
            for r in browser.find_elements(By.CSS_SELECTOR, "tr[data-job]")
        )

        def gone() -> bool:
            for name in ("console-wizard", "console-extra-1", "console-extra-2"):
                try:
                    admin.jobs.retrieve(name)
                    return False
                except NotFound:
                    continue
            return True

        wait_for(gone, 60, "the three jobs to be deleted")
    finally:
        console.stop()


def test_a_user_without_rights_sees_an_error_not_other_teams_jobs(
    release: Release, demo_data: str, browser: Any, screenshots: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    cluster = release.cluster
    for namespace in ("team-a", "team-b"):
        cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("create", "serviceaccount", "alice", "-n", "team-a")
    cluster.kubectl(
        "create", "rolebinding", "alice-editor", "-n", "team-a",
        "--clusterrole=safe-synthesizer-editor", "--serviceaccount=team-a:alice",
    )  # fmt: skip
    admin = SafeSynthesizerClient(kubeconfig=cluster.kubeconfig)
    spec = {"dataSource": f"s3://{BUCKET}/input/demo.csv", "suspend": True}
    admin.jobs.create(name="team-a-job", spec=spec, namespace="team-a")
    admin.jobs.create(name="team-b-secret-job", spec=spec, namespace="team-b")
    token = cluster.kubectl("create", "token", "alice", "-n", "team-a", "--duration=1h").strip()

    port = free_port()
    console = ConsoleProcess(
        [
            _venv_bin("gunicorn"),
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
            "--threads=4",
            "safe_synthesizer.console:create_app()",
        ],
        _console_env(
            release,
            SSC_AUTH="token",
            SSC_API_SERVER=cluster.plane.server,
            SSC_CA_FILE=str(cluster.plane.state_dir / "pki" / "ca.crt"),
            SSC_NAMESPACE="team-a",
            SSC_URL_PREFIX="/synth",
        ),
        port,
        cluster.plane.logs_dir / "console-token.log",
    )
    try:
        browser.delete_all_cookies()
        browser.get(f"{console.url}/synth/")
        assert "/synth/login" in browser.current_url
        browser.find_element(By.ID, "token").send_keys("not-a-token")
        browser.find_element(By.ID, "sign-in").click()
        refusal = _by_id(browser, "login-error").text
        assert "did not accept it" in refusal and "Unauthorized" in refusal, refusal
        browser.find_element(By.ID, "token").send_keys(token)
        browser.save_screenshot(str(screenshots / "console-sign-in.png"))
        browser.find_element(By.ID, "sign-in").click()

        assert browser.current_url.endswith("/synth/namespaces/team-a/jobs"), browser.find_element(
            By.TAG_NAME, "main"
        ).text
        assert _by_id(browser, "user").text == "system:serviceaccount:team-a:alice"
        assert browser.find_elements(By.CSS_SELECTOR, "tr[data-job=team-a-job]")

        # another team's namespace, by the switcher and by URL: the API server's refusal, no jobs
        switch = browser.find_element(By.ID, "namespace")
        switch.clear()
        switch.send_keys("team-b")
        browser.find_element(By.CSS_SELECTOR, "form.ns button").click()
        error = _by_id(browser, "error").text
        assert "Not allowed" in error and "team-b" in error and "alice" in error
        assert "team-b-secret-job" not in browser.page_source
        browser.save_screenshot(str(screenshots / "console-forbidden.png"))
        browser.get(console.url + "/synth/namespaces/team-b/jobs")
        assert "Not allowed" in _by_id(browser, "error").text
        assert "team-b-secret-job" not in browser.page_source
        browser.get(console.url + "/synth/namespaces/team-b/jobs/team-b-secret-job")  # a name one knows
        assert "Not allowed" in _by_id(browser, "error").text
        assert not browser.find_elements(By.ID, "progress") and "demo.csv" not in browser.page_source
        with urllib.request.urlopen(f"{console.url}/synth/namespaces/team-b/jobs", timeout=10) as answer:
            assert "/synth/login" in answer.url  # no session, no access at all

        # a wizard upload into team-b is refused before anything reaches S3
        browser.get(f"{console.url}/synth/namespaces/team-b/new")
        table = tmp_path / "steal.csv"
        table.write_bytes(demo_slice(rows=40))
        browser.find_element(By.ID, "name").send_keys("sneaky")
        browser.find_element(By.ID, "dataset_file").send_keys(str(table))
        browser.find_element(By.ID, "review").click()
        assert "Not allowed" in _by_id(browser, "error").text
        listed = release.s3.list_objects_v2(Bucket=BUCKET, Prefix="console-uploads/team-b/")  # type: ignore[attr-defined]
        assert not listed.get("Contents")
        assert admin.jobs.retrieve("team-b-secret-job", namespace="team-b").name == "team-b-secret-job"

        # signing out forgets the token
        browser.get(f"{console.url}/synth/namespaces/team-a/jobs")
        browser.find_element(By.CSS_SELECTOR, "form.inline button").click()
        assert "/synth/login" in browser.current_url
        browser.get(f"{console.url}/synth/namespaces/team-a/jobs")
        assert "/synth/login" in browser.current_url
    finally:
        console.stop()
