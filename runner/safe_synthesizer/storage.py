"""One small interface over local paths, ``file://`` URLs and ``s3://`` URLs.

Every function takes the location as a string (``/data/in.csv``, ``file:///data/in.csv``,
``s3://bucket/key``) and, for S3, an optional boto3 client (:func:`make_s3_client`; built from the
environment when omitted). Pure helpers (:func:`parse_location`, :func:`join_url`,
:func:`translate_error`, :func:`cache_key`) are kept apart from the functions that do I/O.

Writes never leave a half-written final file: local destinations are written to a temporary file in
the same directory and moved into place with :func:`os.replace` (atomic on POSIX); an S3 object only
appears when its single PUT or its multipart upload completes (S3 assembles the parts on
CompleteMultipartUpload), so readers see the old object or the whole new one.

Every failure becomes a :class:`~safe_synthesizer.errors.DataSourceError` (bad location, missing
object, denied access: exit code 1) or a :class:`~safe_synthesizer.errors.TransientError`
(endpoint unreachable, throttling, 5xx: exit code 3) whose message says what to check.
"""

from __future__ import annotations

import errno
import hashlib
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

import boto3
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from .config.job import S3Settings
from .contract import ENV_CACHE
from .errors import DataSourceError, SafeSynthesizerError, TransientError

S3Client: TypeAlias = Any
"""A boto3 S3 client (``boto3.client("s3")``); typed loosely to avoid a stubs dependency."""

MB = 1024 * 1024
DEFAULT_TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=64 * MB, multipart_chunksize=64 * MB, max_concurrency=4, use_threads=True
)
"""Managed-transfer settings: files above 64 MiB go up (and down) in 64 MiB parts, 4 at a time."""

CREDENTIALS_HINT = (
    "check the Secret named in spec.s3.credentialsSecret (keys AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN), which the runner receives as environment "
    "variables of the same names"
)
CACHE_ENV = ENV_CACHE

_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}
_BAD_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidSecurity",
    "InvalidClientTokenId",
}
_DENIED_CODES = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"}
_REGION_CODES = {
    "AuthorizationHeaderMalformed",
    "PermanentRedirect",
    "301",
    "IllegalLocationConstraintException",
}
_TRANSIENT_CODES = {
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "503",
    "500",
}

_UMASK = os.umask(0)
os.umask(_UMASK)


# --------------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Location:
    """A parsed ``s3://bucket/key`` URL (``key`` may be empty or a prefix)."""

    bucket: str
    key: str

    @property
    def url(self) -> str:
        """The canonical ``s3://bucket/key`` form."""
        return f"s3://{self.bucket}/{self.key}"


Location: TypeAlias = S3Location | Path


def is_s3_url(url: str | os.PathLike[str]) -> bool:
    """True for ``s3://`` URLs (scheme compared case-insensitively)."""
    return str(url).lower().startswith("s3://")


def parse_location(url: str | os.PathLike[str]) -> Location:
    """Parse ``url`` into an :class:`S3Location` or a local :class:`~pathlib.Path`.

    Accepts ``s3://bucket/key``, ``file:///abs/path`` (host empty or ``localhost``) and plain paths.
    Other schemes (``http://``, ``gs://`` ...) raise :class:`DataSourceError`.
    """
    if isinstance(url, os.PathLike):
        return Path(url)
    text = str(url)
    if not text:
        raise DataSourceError("empty location; give an s3:// URL, a file:// URL or a local path")
    if "://" not in text:
        return Path(text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        bucket = parts.netloc
        if not bucket:
            raise DataSourceError(f"{text}: no bucket name; use s3://<bucket>/<key>")
        return S3Location(bucket=bucket, key=text.split("://", 1)[1][len(bucket) :].lstrip("/"))
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DataSourceError(
                f"{text}: file:// URLs must name a local path (file:///path), not host {parts.netloc!r}"
            )
        return Path(unquote(parts.path))
    raise DataSourceError(
        f"{text}: unsupported URL scheme {parts.scheme!r}; use s3://bucket/key, file:///path or a local path"
    )


def join_url(prefix: str | os.PathLike[str], name: str) -> str:
    """``prefix`` + ``/`` + ``name`` for S3 and file URLs, :class:`Path` joining for local paths.

    ``name`` is a relative POSIX path (``"a/b.csv"``); leading slashes are ignored.
    """
    name = name.lstrip("/")
    text = os.fspath(prefix)
    if "://" in text:
        return f"{text.rstrip('/')}/{name}" if not text.endswith("://") else f"{text}{name}"
    return str(Path(text) / name)


def cache_key(url: str, etag: str, size: int) -> str:
    """Cache file name for one object version: SHA-256 of URL, ETag and size (hex)."""
    return hashlib.sha256(f"{url}\n{etag.strip(chr(34))}\n{size}".encode()).hexdigest()


def guess_content_type(name: str) -> str | None:
    """The Content-Type to store with an object called ``name`` (``None`` when unknown)."""
    suffix = PurePosixPath(name).suffix.lower()
    known = {
        ".csv": "text/csv",
        ".jsonl": "application/x-ndjson",
        ".json": "application/json",
        ".parquet": "application/vnd.apache.parquet",
        ".html": "text/html",
        ".safetensors": "application/octet-stream",
    }
    return known.get(suffix) or mimetypes.guess_type(name)[0]


def _error_code(exc: ClientError) -> tuple[str, int | None]:
    error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if exc.response else None
    return str(error.get("Code") or status or "Unknown"), status


def _unwrap(exc: BaseException) -> BaseException:
    """The ClientError behind boto3's S3UploadFailedError / RetriesExceededError, if any."""
    if isinstance(exc, RetriesExceededError) and getattr(exc, "last_exception", None) is not None:
        return _unwrap(exc.last_exception)
    if isinstance(exc, S3UploadFailedError):
        for inner in (exc.__cause__, exc.__context__):
            if isinstance(inner, ClientError | BotoCoreError):
                return inner
    return exc


def translate_error(
    exc: BaseException,
    url: str,
    *,
    writing: bool = False,
    bucket_missing: bool = False,
) -> SafeSynthesizerError:
    """Turn a boto3/botocore/OS error about ``url`` into a project error that says what to do.

    ``writing`` selects the hint (``spec.output`` instead of ``spec.dataSource``); ``bucket_missing``
    is set by callers that found the bucket itself gone after an ambiguous 404 on a HEAD request.
    """
    if isinstance(exc, SafeSynthesizerError):
        return exc
    exc = _unwrap(exc)
    spec_field = "spec.output" if writing else "spec.dataSource"
    verb = "write" if writing else "read"
    bucket = url.split("://", 1)[1].split("/", 1)[0] if is_s3_url(url) else ""

    if isinstance(exc, ClientError):
        code, status = _error_code(exc)
        if code == "NoSuchBucket" or bucket_missing:
            action = "create it or fix spec.output" if writing else "check spec.dataSource"
            return DataSourceError(
                f"bucket '{bucket}' does not exist (for {url}); {action}, and spec.s3.endpoint / "
                "spec.s3.region if the bucket is on another store"
            )
        if code in _NOT_FOUND_CODES:
            return DataSourceError(f"{url} does not exist; check {spec_field}")
        if code in _BAD_CREDENTIAL_CODES:
            return DataSourceError(
                f"S3 rejected the credentials ({code}) while trying to {verb} {url}; {CREDENTIALS_HINT}"
            )
        if code in _DENIED_CODES:
            need = "s3:PutObject" if writing else "s3:GetObject, s3:ListBucket"
            why = (
                "the credentials are valid but lack permission"
                if code == "AccessDenied"
                else "the credentials are wrong or lack permission"
            )
            shown = code if not code.isdigit() else f"HTTP {code}"
            return DataSourceError(
                f"access denied ({shown}) while trying to {verb} {url}: {why} ({need}); "
                f"{CREDENTIALS_HINT}, and the bucket policy"
            )
        if code in _REGION_CODES:
            return DataSourceError(
                f"S3 answered {code} for {url}: the bucket lives in another region or behind another "
                "endpoint; check spec.s3.region and spec.s3.endpoint"
            )
        if code == "InvalidBucketName":
            return DataSourceError(f"'{bucket}' is not a valid bucket name; check {spec_field}")
        if code in _TRANSIENT_CODES or (status is not None and status >= 500):
            return TransientError(
                f"S3 failed with {code} while trying to {verb} {url}; the job will be retried"
            )
        return DataSourceError(f"S3 refused to {verb} {url} ({code}); check {spec_field} and spec.s3")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | CredentialRetrievalError):
        return DataSourceError(f"no usable S3 credentials to {verb} {url}; {CREDENTIALS_HINT}")
    if isinstance(exc, SSLError):
        return DataSourceError(
            f"TLS verification failed for the S3 endpoint while trying to {verb} {url}; check spec.s3.endpoint "
            "(http:// vs https://) and the endpoint's certificate"
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError | ConnectionClosedError):
        return TransientError(
            f"cannot reach the S3 endpoint to {verb} {url} ({type(exc).__name__}); check spec.s3.endpoint "
            "and the network path from the pod; the job will be retried"
        )
    if isinstance(exc, BotoCoreError):
        return TransientError(f"S3 client error while trying to {verb} {url}: {exc}")
    if isinstance(exc, FileNotFoundError):
        return DataSourceError(f"{url} does not exist; check {spec_field}")
    if isinstance(exc, IsADirectoryError):
        return DataSourceError(f"{url} is a directory, not a file; check {spec_field}")
    if isinstance(exc, NotADirectoryError):
        return DataSourceError(f"a parent of {url} is a file, not a directory; check {spec_field}")
    if isinstance(exc, PermissionError):
        return DataSourceError(
            f"permission denied to {verb} {url}; check the file's permissions and the pod's securityContext"
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return DataSourceError(
            f"no space left on the device while trying to {verb} {url}; give it a larger volume"
        )
    if isinstance(exc, OSError):
        return DataSourceError(f"cannot {verb} {url}: {exc.strerror or exc}")
    return TransientError(f"unexpected {type(exc).__name__} while trying to {verb} {url}")


# --------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------


def make_s3_client(
    settings: S3Settings | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    max_attempts: int = 5,
    connect_timeout: float = 10.0,
    read_timeout: float = 120.0,
) -> S3Client:
    """Build an S3 client from ``spec.s3`` plus the standard AWS environment variables.

    Credentials come from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``
    (the operator sets them from ``spec.s3.credentialsSecret``) or boto3's other usual sources.
    The endpoint is ``settings.endpoint`` or ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``; the region
    ``settings.region`` or ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (else us-east-1). Retries use
    botocore's ``standard`` mode (``max_attempts`` tries, exponential backoff on throttling, 5xx and
    connection errors).
    """
    settings = settings or S3Settings()
    env = os.environ if environ is None else environ
    endpoint = settings.endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    region = settings.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        signature_version="s3v4",
        s3={"addressing_style": settings.addressingStyle},
        user_agent_extra="safe-synthesizer",
    )
    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        region_name=region,
    )
    return session.client("s3", endpoint_url=endpoint, config=config)


def _client(s3: S3Client | None) -> S3Client:
    return s3 if s3 is not None else make_s3_client()


@contextmanager
def _translated(url: str, *, writing: bool = False, s3: S3Client | None = None) -> Iterator[None]:
    """Re-raise any failure inside the block as a project error about ``url``.

    An S3 404 without an error code (HEAD requests have no body) is disambiguated with a HeadBucket
    call, so a missing bucket is reported as such.
    """
    try:
        yield
    except SafeSynthesizerError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated below, original chained
        inner = _unwrap(exc)
        bucket_missing = False
        if s3 is not None and isinstance(inner, ClientError) and _error_code(inner)[0] in {"404", "NotFound"}:
            bucket_missing = _bucket_missing(s3, parse_location(url))
        raise translate_error(exc, url, writing=writing, bucket_missing=bucket_missing) from exc


def _bucket_missing(s3: S3Client, loc: Location) -> bool:
    if not isinstance(loc, S3Location):
        return False
    try:
        s3.head_bucket(Bucket=loc.bucket)
    except ClientError as exc:
        return _error_code(exc)[0] in {"404", "NoSuchBucket", "NotFound"}
    except BotoCoreError:
        return False
    return False


# --------------------------------------------------------------------------------------------------
# Local atomic writes
# --------------------------------------------------------------------------------------------------


@contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success move it onto ``dest`` with :func:`os.replace`.

    On any error the temporary file is removed and ``dest`` is left as it was. The final file gets
    the usual permissions (0666 minus the umask).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, dest)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _copy_local(src: Path, dest: Path) -> None:
    """Copy ``src`` to ``dest`` atomically (fsync before the rename); no-op when they are one file."""
    if dest.exists() and os.path.samefile(src, dest):
        return
    with atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())


# --------------------------------------------------------------------------------------------------
# Public I/O
# --------------------------------------------------------------------------------------------------


def read_bytes(url: str | os.PathLike[str], s3: S3Client | None = None) -> bytes:
    """The whole content of a local file or S3 object."""
    loc = parse_location(url)
    text = loc.url if isinstance(loc, S3Location) else str(url)
    if isinstance(loc, Path):
        with _translated(text):
            return loc.read_bytes()
    client = _client(s3)
    with _translated(text, s3=client):
        response = client.get_object(Bucket=loc.bucket, Key=loc.key)
        return response["Body"].read()


def object_size(url: str | os.PathLike[str], s3: S3Client | None = None) -> int:
    """Size in bytes of a local file or S3 object."""
    loc = parse_location(url)
    if isinstance(loc, Path):
        with _translated(str(url)):
            if loc.is_dir():
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(loc))
            return loc.stat().st_size
    client = _client(s3)
    with _translated(loc.url, s3=client):
        return int(client.head_object(Bucket=loc.bucket, Key=loc.key)["ContentLength"])


def download_to(
    url: str | os.PathLike[str],
    local_path: str | os.PathLike[str],
    s3: S3Client | None = None,
    *,
    transfer_config: TransferConfig | None = None,
) -> Path:
    """Copy a local file or S3 object to ``local_path`` (atomically); returns ``local_path``.

    S3 downloads use boto3's managed transfer (parallel ranged GETs for large objects).
    """
    loc = parse_location(url)
    dest = Path(local_path)
    if isinstance(loc, Path):
        with _translated(str(url)):
            _copy_local(loc, dest)
        return dest
    client = _client(s3)
    with _translated(loc.url, s3=client), atomic_path(dest) as tmp:
        client.download_file(loc.bucket, loc.key, str(tmp), Config=transfer_config or DEFAULT_TRANSFER_CONFIG)
    return dest


def upload_file(
    local_path: str | os.PathLike[str],
    url: str | os.PathLike[str],
    s3: S3Client | None = None,
    content_type: str | None = None,
    *,
    transfer_config: TransferConfig | None = None,
) -> str:
    """Write the file ``local_path`` to ``url`` (S3 object or local path); returns the URL written.

    S3: boto3's managed transfer, a multipart upload above ``transfer_config.multipart_threshold``
    (64 MiB by default). Atomic by nature: the object appears only when the single PUT or the
    CompleteMultipartUpload succeeds; a failed multipart upload is aborted by boto3 and leaves no
    object. ``content_type`` defaults to a guess from the extension.
    Local: copied to a temporary file in the destination directory, then renamed into place.
    """
    src = Path(local_path)
    if not src.is_file():
        raise DataSourceError(f"cannot upload {src}: it is not a file")
    loc = parse_location(url)
    if isinstance(loc, Path):
        with _translated(str(url), writing=True):
            _copy_local(src, loc)
        return str(url)
    if not loc.key or loc.key.endswith("/"):
        raise DataSourceError(
            f"{loc.url}: an object key is needed (the URL ends with '/'); check spec.output"
        )
    client = _client(s3)
    extra: dict[str, str] = {}
    ctype = content_type or guess_content_type(loc.key)
    if ctype:
        extra["ContentType"] = ctype
    with _translated(loc.url, writing=True, s3=client):
        client.upload_file(
            str(src),
            loc.bucket,
            loc.key,
            ExtraArgs=extra or None,
            Config=transfer_config or DEFAULT_TRANSFER_CONFIG,
        )
    return loc.url


def _relative_files(local_dir: Path) -> list[PurePosixPath]:
    return sorted(
        PurePosixPath(p.relative_to(local_dir).as_posix()) for p in local_dir.rglob("*") if p.is_file()
    )


def upload_dir(
    local_dir: str | os.PathLike[str],
    url_prefix: str | os.PathLike[str],
    s3: S3Client | None = None,
    *,
    transfer_config: TransferConfig | None = None,
) -> list[str]:
    """Upload every file under ``local_dir`` to ``url_prefix/<relative path>``; returns the URLs, sorted."""
    root = Path(local_dir)
    if not root.is_dir():
        raise DataSourceError(f"cannot upload {root}: it is not a directory")
    client = s3 if s3 is not None or not is_s3_url(url_prefix) else make_s3_client()
    return [
        upload_file(root / rel, join_url(url_prefix, str(rel)), client, transfer_config=transfer_config)
        for rel in _relative_files(root)
    ]


def default_cache_dir() -> Path:
    """``$SAFE_SYNTH_CACHE/s3-objects`` (default ``~/.cache/safe-synthesizer/s3-objects``)."""
    base = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "safe-synthesizer")
    return Path(base) / "s3-objects"


def _safe_relative(key: str, prefix: str, url: str) -> PurePosixPath:
    rel = PurePosixPath(key[len(prefix) :].lstrip("/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise DataSourceError(
            f"{url}: object key {key!r} would land outside the download folder; refusing it"
        )
    return rel


def _place(cached: Path, dest: Path) -> None:
    """Put the cached file at ``dest``: a hard link when possible (same filesystem), else a copy."""
    with atomic_path(dest) as tmp:
        tmp.unlink()
        try:
            os.link(cached, tmp)
        except OSError:
            shutil.copyfile(cached, tmp)


def download_prefix(
    url_prefix: str | os.PathLike[str],
    local_dir: str | os.PathLike[str],
    s3: S3Client | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    transfer_config: TransferConfig | None = None,
) -> list[Path]:
    """Copy every object under ``url_prefix`` (a "folder", e.g. a model) into ``local_dir``.

    Returns the local files written, sorted. For S3, each object version is first fetched into a
    cache (``cache_dir``, default :func:`default_cache_dir`) under a name keyed by URL + ETag + size,
    so the same model is downloaded once per node; files in ``local_dir`` are hard links to the cache
    where possible, so treat them as read-only. Local prefixes are copied (no cache).
    Raises :class:`DataSourceError` when the prefix holds no object.
    """
    dest_root = Path(local_dir)
    loc = parse_location(url_prefix)
    text = loc.url if isinstance(loc, S3Location) else str(url_prefix)
    written: list[Path] = []
    if isinstance(loc, Path):
        with _translated(text):
            if not loc.is_dir():
                raise DataSourceError(f"{text} is not a directory; check the model location")
            for rel in _relative_files(loc):
                _copy_local(loc / rel, dest_root / rel)
                written.append(dest_root / rel)
        if not written:
            raise DataSourceError(f"{text} is an empty directory; check the model location")
        return written

    client = _client(s3)
    prefix = loc.key if not loc.key or loc.key.endswith("/") else loc.key + "/"
    cache_root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    config = transfer_config or DEFAULT_TRANSFER_CONFIG
    with _translated(f"s3://{loc.bucket}/{prefix}", s3=client):
        objects = [
            obj
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
            if not obj["Key"].endswith("/")
        ]
    if not objects:
        raise DataSourceError(f"s3://{loc.bucket}/{prefix} holds no objects; check the model location")
    for obj in sorted(objects, key=lambda o: o["Key"]):
        obj_url = f"s3://{loc.bucket}/{obj['Key']}"
        rel = _safe_relative(obj["Key"], prefix, obj_url)
        dest = dest_root / rel
        with _translated(obj_url, s3=client):
            if not use_cache:
                with atomic_path(dest) as tmp:
                    client.download_file(loc.bucket, obj["Key"], str(tmp), Config=config)
            else:
                key = cache_key(obj_url, obj.get("ETag", ""), int(obj["Size"]))
                cached = cache_root / key[:2] / key
                if not cached.is_file() or cached.stat().st_size != int(obj["Size"]):
                    with atomic_path(cached) as tmp:
                        client.download_file(loc.bucket, obj["Key"], str(tmp), Config=config)
                _place(cached, dest)
        written.append(dest)
    return written


__all__ = [
    "CACHE_ENV",
    "CREDENTIALS_HINT",
    "DEFAULT_TRANSFER_CONFIG",
    "Location",
    "S3Client",
    "S3Location",
    "atomic_path",
    "cache_key",
    "default_cache_dir",
    "download_prefix",
    "download_to",
    "guess_content_type",
    "is_s3_url",
    "join_url",
    "make_s3_client",
    "object_size",
    "parse_location",
    "read_bytes",
    "translate_error",
    "upload_dir",
    "upload_file",
]
