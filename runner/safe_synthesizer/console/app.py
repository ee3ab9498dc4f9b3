"""The web console: a small server-rendered Flask application on the SDK.

Pages (every URL relative to ``SSC_URL_PREFIX``; every form POSTs with a CSRF token):

* ``/namespaces/<ns>/jobs``: the job list (name, dataset, SQS, DPS, created, status; summary,
  report and delete per job; select several to delete);
* ``/namespaces/<ns>/new``: the create wizard (name, dataset upload or existing object, group and
  order columns, number of records, privacy level, advanced parameters), then review and submit;
* ``/namespaces/<ns>/jobs/<name>``: details (configuration, live progress with stage and ETA,
  runner log, the evaluation report inline, downloads).

Pages show names, settings, states, scores, the runner's log and the evaluation report (aggregates
only), never a record: the console streams an upload to S3 without parsing it, and record values
reach the browser only as the user's own downloads. Whose permissions are used: :mod:`.settings`.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from flask import (
    Flask,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.utils import secure_filename

from ..sdk import Job, SafeSynthesizerClient
from ..sdk.errors import (
    AlreadyExists,
    Forbidden,
    InvalidSpec,
    NotFound,
    SafeSynthesizerSdkError,
)
from ..sdk.spec import build_manifest
from . import kube
from .forms import FIELD_PATHS, ActionForm, JobForm, LoginForm, NamespaceForm
from .settings import ConsoleSettings

log = logging.getLogger(__name__)

ClientFactory = Callable[[str], SafeSynthesizerClient]
_REPORT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


class PrefixMiddleware:
    """Serve under ``prefix`` (an Ingress path such as ``/synth``) as well as at the root, so links
    carry the prefix (``url_for`` uses ``SCRIPT_NAME``) and probes still reach ``/healthz``."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
        return self.app(environ, start_response)


def _merge(target: dict[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in updates.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def eta_seconds(job: Job, now: dt.datetime | None = None) -> float | None:
    """Seconds left, from the time since the job started and its overall percent done."""
    if job.done or job.progress is None or not job.progress.percent:
        return None
    started = _parse_time((job.resource.get("status") or {}).get("startTime")) or _parse_time(job.created_at)
    if started is None:
        return None
    elapsed = ((now or dt.datetime.now(dt.UTC)) - started).total_seconds()
    percent = float(job.progress.percent)
    if elapsed <= 0 or percent <= 0 or percent >= 100:
        return None
    return elapsed * (100.0 - percent) / percent


def human_duration(seconds: float | None) -> str:
    """``about 3 min`` / ``about 40 s`` / ``about 1 h 5 min``."""
    if seconds is None:
        return ""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"about {seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"


def dataset_name(job: Job) -> str:
    """The input's file name (the dataset column of the list)."""
    source = str(job.spec.get("dataSource") or "")
    return source.rstrip("/").rsplit("/", 1)[-1] if source else ""


def status_payload(job: Job) -> dict[str, Any]:
    """What the details page polls (``status.json``): state, progress, ETA and scores."""
    progress = job.progress
    eta = eta_seconds(job)
    return {
        "name": job.name,
        "phase": job.phase or "Created",
        "status": job.status,
        "done": job.done,
        "stage": progress.stage if progress else None,
        "percent": progress.percent if progress else None,
        "progressMessage": progress.message if progress else None,
        "etaSeconds": eta,
        "eta": human_duration(eta),
        "message": job.message,
        "sqs": job.scores.sqs if job.scores else None,
        "dps": job.scores.dps if job.scores else None,
    }


def create_app(
    settings: ConsoleSettings | None = None, client_factory: Callable[..., Any] | None = None
) -> Flask:
    """The console application. ``client_factory(namespace)`` replaces the per-request SDK client
    (tests without a cluster); by default it is built from the caller's credentials."""
    settings = settings or ConsoleSettings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
        SESSION_COOKIE_NAME="ssc_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        WTF_CSRF_TIME_LIMIT=int(settings.session_hours * 3600),
        WTF_CSRF_SSL_STRICT=settings.secure_cookies,
    )
    app.extensions["ssc_settings"] = settings
    CSRFProtect(app)
    if settings.proxy_fix:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_fix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    if settings.url_prefix:
        app.wsgi_app = PrefixMiddleware(app.wsgi_app, settings.url_prefix)  # type: ignore[method-assign]

    def api_client() -> Any:
        if "api_client" not in g:
            if settings.auth == "token":
                token = session.get("token")
                if not token:
                    abort(401)
                g.api_client = kube.token_api_client(settings, token)
                g.owns_api_client = True
            else:
                g.api_client = kube.kubeconfig_api_client(settings)
        return g.api_client

    def client_for(namespace: str) -> Any:
        if client_factory is not None:
            return client_factory(namespace)
        return kube.sdk_client(settings, api_client(), namespace)

    def may_create(namespace: str) -> bool:
        if client_factory is not None:
            return bool(getattr(client_factory, "may_create", lambda ns: True)(namespace))
        return kube.can_i(api_client(), "create", namespace)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        client = g.pop("api_client", None)
        if client is not None and g.pop("owns_api_client", False):
            client.close()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.before_request
    def _require_sign_in() -> Any:
        if settings.auth != "token" or request.endpoint in ("login", "healthz", "static", None):
            return None
        if not session.get("token"):
            return redirect(url_for("login", next=request.full_path if request.method == "GET" else None))
        return None

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "settings": settings,
            "user": session.get("user") if settings.auth == "token" else None,
            "action_form": ActionForm(),
            "namespace_form": NamespaceForm(namespace=g.get("namespace") or settings.namespace),
            "current_namespace": g.get("namespace"),
        }

    @app.template_filter("score")
    def _score(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}"

    @app.template_filter("when")
    def _when(value: str | None) -> str:
        parsed = _parse_time(value)
        return parsed.strftime("%Y-%m-%d %H:%M UTC") if parsed else (value or "")

    @app.template_filter("size")
    def _size(value: int | None) -> str:
        if value is None:
            return ""
        size = float(value)
        for unit in ("B", "KB", "MB", "GB"):
            if size < 1024 or unit == "GB":
                return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            size /= 1024
        return str(value)

    def error_page(exc: SafeSynthesizerSdkError, namespace: str | None = None) -> tuple[str, int]:
        status = exc.status if isinstance(exc, Forbidden | NotFound) else 502
        if isinstance(exc, Forbidden):
            title = "Not allowed"
            who = session.get("user") if settings.auth == "token" else "your kubeconfig's user"
            hint = (
                f"The Kubernetes API refused this for {who}"
                + (f" in namespace {namespace}" if namespace else "")
                + ". Ask your platform team for the safesynthesizer editor or viewer role there, "
                "or choose a namespace of your own."
            )
        elif isinstance(exc, NotFound):
            title, hint = "Not found", "It may have been deleted."
        else:
            title, hint = "The Kubernetes API or S3 answered with an error", ""
        return render_template(
            "error.html", title=title, message=exc.message, hint=hint, status=status
        ), status

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> tuple[str, int]:
        return (
            render_template(
                "error.html",
                title="Form expired or not sent by this console",
                message=f"The form was refused: {exc.description}",
                hint="Go back, reload the page and send it again.",
                status=400,
            ),
            400,
        )

    @app.errorhandler(413)
    def _too_large(_exc: Any) -> tuple[str, int]:
        return (
            render_template(
                "error.html",
                title="Upload too large",
                message=f"Upload a table: at most {settings.max_upload_mb} MB through the console.",
                hint="Put larger tables in S3 and name the object instead.",
                status=413,
            ),
            413,
        )

    @app.errorhandler(SafeSynthesizerSdkError)
    def _sdk_error(exc: SafeSynthesizerSdkError) -> tuple[str, int]:
        return error_page(exc, g.get("namespace"))

    from urllib3.exceptions import HTTPError as TransportError

    @app.errorhandler(TransportError)
    def _unreachable(exc: Exception) -> tuple[str, int]:
        return error_page(
            SafeSynthesizerSdkError(f"cannot reach the Kubernetes API server: {type(exc).__name__}: {exc}"),
            g.get("namespace"),
        )

    # -- sign-in -------------------------------------------------------------------------------

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if settings.auth != "token":
            return redirect(url_for("index"))
        form = LoginForm()
        error = None
        if form.validate_on_submit():
            token = form.token.data.strip()
            client = kube.token_api_client(settings, token)
            try:
                user = kube.who_am_i(client)
            except SafeSynthesizerSdkError as exc:
                error = f"Kubernetes token: the API server did not accept it ({exc.message})"
            else:
                session.clear()
                session.permanent = True
                session["token"] = token
                session["user"] = user
                # ``next`` is a path below the console's root (``request.full_path``): only local
                # targets, with the root (URL prefix, forwarded prefix) in front
                target = request.args.get("next") or ""
                if not target.startswith("/") or target.startswith("//") or "\\" in target:
                    return redirect(url_for("index"))
                return redirect(request.script_root + target)
            finally:
                client.close()
        return render_template("login.html", form=form, error=error), (401 if error else 200)

    @app.post("/logout")
    def logout() -> Any:
        form = ActionForm()
        if form.validate_on_submit():
            session.clear()
        return redirect(url_for("login" if settings.auth == "token" else "index"))

    # -- namespaces and the job list -------------------------------------------------------------

    @app.get("/")
    def index() -> Any:
        namespace = session.get("namespace") or settings.namespace
        return redirect(url_for("jobs", namespace=namespace))

    @app.post("/namespace")
    def switch_namespace() -> Any:
        form = NamespaceForm()
        if not form.validate_on_submit():
            for errors in form.errors.values():
                for message in errors:
                    flash(message, "error")
            return redirect(request.referrer or url_for("index"))
        session["namespace"] = form.namespace.data
        return redirect(url_for("jobs", namespace=form.namespace.data))

    @app.url_value_preprocessor
    def _namespace(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        if values and "namespace" in values:
            g.namespace = values["namespace"]

    @app.get("/namespaces/<namespace>/jobs")
    def jobs(namespace: str) -> Any:
        client = client_for(namespace)
        listing = client.jobs.list(namespace=namespace)
        listing.sort(key=lambda j: (j.created_at or "", j.name), reverse=True)
        rows = [
            {
                "job": job,
                "dataset": dataset_name(job),
                "report": any(r.id == "evaluation_report" for r in job.result_refs),
            }
            for job in listing
        ]
        return render_template("jobs.html", namespace=namespace, rows=rows)

    @app.post("/namespaces/<namespace>/jobs/delete")
    def delete_jobs(namespace: str) -> Any:
        form = ActionForm()
        if not form.validate_on_submit():
            abort(400)
        names = [n for n in request.form.getlist("selected") if n]
        single = request.form.get("name")
        if single:
            names = [single]
        if not names:
            flash("Select at least one job to delete.", "error")
            return redirect(url_for("jobs", namespace=namespace))
        if request.form.get("confirm") != "yes":
            return render_template("confirm_delete.html", namespace=namespace, names=names)
        client = client_for(namespace)
        deleted, failed = [], []
        for name in names:
            try:
                client.jobs.delete(name, namespace=namespace)
                deleted.append(name)
            except SafeSynthesizerSdkError as exc:
                failed.append(f"{name}: {exc.message}")
        if deleted:
            flash(f"Deleted {len(deleted)} job(s): {', '.join(deleted)}", "ok")
        for message in failed:
            flash(f"Not deleted: {message}", "error")
        return redirect(url_for("jobs", namespace=namespace))

    # -- the create wizard ---------------------------------------------------------------------

    def _spec(form: JobForm, data_source: str) -> dict[str, Any]:
        spec = _merge(
            copy.deepcopy(settings.job_defaults), {"dataSource": data_source, "config": form.config()}
        )
        return spec

    def _put_api_errors(form: JobForm, errors: list[Any]) -> list[str]:
        """Attach each API field error to its form field; return the ones no field takes."""
        loose: list[str] = []
        for error in errors:
            path = getattr(error, "path", "") or ""
            field_name = next(
                (f for f, p in sorted(FIELD_PATHS.items(), key=lambda kv: -len(kv[1])) if path.startswith(p)),
                None,
            )
            label = getattr(form, field_name).label.text if field_name else path
            text = f"{label}: {getattr(error, 'message', error)}"
            if field_name:
                getattr(form, field_name).errors = [*getattr(form, field_name).errors, text]
            else:
                loose.append(f"{path}: {getattr(error, 'message', error)}" if path else text)
        return loose

    def _upload_destination(namespace: str, name: str, filename: str) -> str:
        from .. import storage

        return storage.join_url(settings.upload_prefix or "", f"{namespace}/{name}/input/{filename}")

    def _existing_uploads(namespace: str) -> list[str]:
        """Tables uploaded earlier in this namespace (object names only; for the picker)."""
        prefix = settings.upload_prefix or ""
        if not prefix.lower().startswith("s3://") or client_factory is not None:
            return []
        try:
            from .. import storage

            location = urlsplit(storage.join_url(prefix, f"{namespace}/"))
            s3 = client_for(namespace).s3_client_for()
            answer = s3.list_objects_v2(Bucket=location.netloc, Prefix=location.path.lstrip("/"), MaxKeys=200)
        except Exception as exc:  # noqa: BLE001 - the picker is a convenience
            log.info("cannot list earlier uploads: %s", exc)
            return []
        keys = [o["Key"] for o in answer.get("Contents") or [] if "/input/" in o["Key"]]
        return [f"s3://{location.netloc}/{k}" for k in sorted(keys)]

    @app.route("/namespaces/<namespace>/new", methods=["GET", "POST"])
    def new_job(namespace: str) -> Any:
        form = JobForm()
        loose: list[str] = []
        if request.method == "POST" and request.form.get("back"):
            return render_template(
                "new.html", namespace=namespace, form=form, loose=[], uploads=_existing_uploads(namespace)
            )
        if form.validate_on_submit():
            upload = (
                form.dataset_file.data if form.dataset_file.data and form.dataset_file.data.filename else None
            )
            data_source = (form.dataset_url.data or "").strip()
            if upload is not None:
                filename = secure_filename(upload.filename) or "data.csv"
                if not settings.upload_prefix:
                    form.dataset_file.errors = [
                        "Upload a table: this console has no upload location (SSC_UPLOAD_PREFIX); name an existing object"
                    ]
                    return render_template(
                        "new.html", namespace=namespace, form=form, loose=[], uploads=[]
                    ), 422
                data_source = _upload_destination(namespace, form.name.data, filename)
            spec = _spec(form, data_source)
            try:
                manifest = build_manifest(
                    form.name.data, spec, namespace=namespace, project=form.project.data or None
                )
            except InvalidSpec as exc:
                loose = _put_api_errors(form, exc.errors)
            else:
                submit = request.form.get("submit") == "yes" and upload is None
                if upload is not None:
                    if not may_create(namespace):
                        raise Forbidden(f"you may not create SafeSynthesizerJobs in namespace {namespace}")
                    _store_upload(upload, data_source, client_for(namespace))
                    form.dataset_url.data = data_source
                if not submit:
                    return render_template(
                        "review.html",
                        namespace=namespace,
                        form=form,
                        manifest=yaml.safe_dump(manifest, sort_keys=False),
                        uploaded=upload is not None,
                    )
                client = client_for(namespace)
                try:
                    job = client.jobs.create(
                        name=form.name.data, spec=spec, project=form.project.data or None, namespace=namespace
                    )
                except InvalidSpec as exc:
                    loose = _put_api_errors(form, exc.errors)
                except AlreadyExists:
                    form.name.errors = [
                        *form.name.errors,
                        f"Job name: {form.name.data} already exists in {namespace}",
                    ]
                else:
                    flash(f"Created job {job.name}", "ok")
                    return redirect(url_for("job_detail", namespace=namespace, name=job.name))
        status = 422 if request.method == "POST" else 200
        return (
            render_template(
                "new.html", namespace=namespace, form=form, loose=loose, uploads=_existing_uploads(namespace)
            ),
            status,
        )

    def _store_upload(upload: Any, url: str, client: Any) -> None:
        from .. import storage

        with tempfile.TemporaryDirectory(prefix="ssc-upload-") as folder:
            local = Path(folder) / Path(url).name
            upload.save(local)
            if os.path.getsize(local) == 0:
                raise SafeSynthesizerSdkError("Upload a table: the file is empty")
            s3 = client.s3_client_for() if storage.is_s3_url(url) else None
            try:
                storage.upload_file(local, url, s3)
            except Exception as exc:  # noqa: BLE001 - shown to the user, not a crash
                raise SafeSynthesizerSdkError(f"cannot upload the table to {url}: {exc}") from None

    # -- details -------------------------------------------------------------------------------

    @app.get("/namespaces/<namespace>/jobs/<name>")
    def job_detail(namespace: str, name: str) -> Any:
        client = client_for(namespace)
        job = client.jobs.retrieve(name, namespace=namespace)
        logs, logs_note = "", ""
        try:
            logs = client.jobs.logs(name, namespace=namespace, tail_lines=settings.log_tail_lines)
        except NotFound as exc:
            logs_note = f"No runner log: {exc.message}"
        except Forbidden:
            logs_note = "You may not read pod logs in this namespace."
        except SafeSynthesizerSdkError as exc:
            logs_note = f"No runner log: {exc.message}"
        try:
            results = client.jobs.results.list(job)
        except SafeSynthesizerSdkError:
            results = list(job.result_refs)
        config = yaml.safe_dump(job.spec, sort_keys=False)
        return render_template(
            "job.html",
            namespace=namespace,
            job=job,
            live=status_payload(job),
            logs=logs,
            logs_note=logs_note,
            results=results,
            config=config,
            report=any(r.id == "evaluation_report" for r in results),
            dataset=dataset_name(job),
        )

    @app.get("/namespaces/<namespace>/jobs/<name>/status.json")
    def job_status(namespace: str, name: str) -> Any:
        try:
            job = client_for(namespace).jobs.retrieve(name, namespace=namespace)
        except SafeSynthesizerSdkError as exc:
            return jsonify({"error": exc.message}), exc.status or 502
        return jsonify(status_payload(job))

    @app.get("/namespaces/<namespace>/jobs/<name>/report")
    def job_report(namespace: str, name: str) -> Any:
        client = client_for(namespace)
        job = client.jobs.retrieve(name, namespace=namespace)
        body = client.jobs.results.download("evaluation_report", job)
        response = Response(body, mimetype="text/html")
        response.headers["Content-Security-Policy"] = _REPORT_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    @app.get("/namespaces/<namespace>/jobs/<name>/results/<result_id>")
    def job_result(namespace: str, name: str, result_id: str) -> Any:
        client = client_for(namespace)
        job = client.jobs.retrieve(name, namespace=namespace)
        found = next((r for r in client.jobs.results.list(job) if r.id == result_id), None)
        if found is None:
            raise NotFound(f"{namespace}/{name} has no result {result_id!r}")
        if found.format == "directory":
            raise NotFound(f"{result_id} is a folder ({found.url}): download it with the SDK or an S3 client")
        body = client.jobs.results.download(result_id, job)
        filename = secure_filename(found.url.rsplit("/", 1)[-1]) or result_id
        response = Response(body, mimetype="application/octet-stream")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}-{filename}"'
        return response

    return app
