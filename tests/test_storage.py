"""Storage over local paths, file:// URLs and s3:// (a real S3 HTTP server on loopback: moto)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from safe_synthesizer import storage
from safe_synthesizer.config import S3Settings
from safe_synthesizer.errors import DataSourceError, SafeSynthesizerError, TransientError, UserInputError
from safe_synthesizer.storage import (
    S3Location,
    download_prefix,
    download_to,
    join_url,
    make_s3_client,
    object_size,
    parse_location,
    read_bytes,
    translate_error,
    upload_dir,
    upload_file,
)

BUCKET = "data-bucket"
MB = 1024 * 1024


@pytest.fixture
def s3(s3_env):
    """A client made the way the runner makes it (spec.s3 + AWS env vars), with a test bucket."""
    client = make_s3_client(S3Settings(endpoint=s3_env.endpoint_url, addressingStyle="path"), max_attempts=2)
    client.create_bucket(Bucket=BUCKET)
    return client


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://b/k/x.csv", S3Location("b", "k/x.csv")),
        ("S3://b/", S3Location("b", "")),
        ("s3://b", S3Location("b", "")),
        ("file:///tmp/a%20b.csv", Path("/tmp/a b.csv")),
        ("file://localhost/tmp/x.csv", Path("/tmp/x.csv")),
        ("/tmp/x.csv", Path("/tmp/x.csv")),
        ("rel/x.csv", Path("rel/x.csv")),
    ],
)
def test_parse_location(url, expected):
    assert parse_location(url) == expected


@pytest.mark.parametrize(
    "url", ["http://host/x.csv", "gs://b/x.csv", "s3:///key.csv", "file://otherhost/x.csv", ""]
)
def test_parse_location_rejects(url):
    with pytest.raises(DataSourceError):
        parse_location(url)


@pytest.mark.parametrize(
    ("prefix", "name", "expected"),
    [
        ("s3://b/out", "a.csv", "s3://b/out/a.csv"),
        ("s3://b/out/", "/dir/a.csv", "s3://b/out/dir/a.csv"),
        ("s3://b", "a.csv", "s3://b/a.csv"),
        ("file:///tmp/out/", "a.csv", "file:///tmp/out/a.csv"),
        ("/tmp/out", "sub/a.csv", "/tmp/out/sub/a.csv"),
    ],
)
def test_join_url(prefix, name, expected):
    assert join_url(prefix, name) == expected


def test_error_classes_and_exit_codes():
    assert issubclass(DataSourceError, UserInputError)
    assert DataSourceError("x").exit_code == 1 and not DataSourceError("x").retryable
    assert TransientError("x").exit_code == 3 and TransientError("x").retryable


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    ("exc", "kind", "fragment"),
    [
        (_client_error("SlowDown", 503), TransientError, "retried"),
        (_client_error("InternalError", 500), TransientError, "retried"),
        (_client_error("AuthorizationHeaderMalformed", 400), DataSourceError, "spec.s3.region"),
        (NoCredentialsError(), DataSourceError, "AWS_ACCESS_KEY_ID"),
        (EndpointConnectionError(endpoint_url="http://x"), TransientError, "spec.s3.endpoint"),
        (PermissionError(13, "denied"), DataSourceError, "permission denied"),
    ],
)
def test_translate_error_other_cases(exc, kind, fragment):
    """Cases moto cannot produce on demand; the S3 answers it can produce are tested against it below."""
    err = translate_error(exc, "s3://b/k.csv")
    assert type(err) is kind
    assert fragment in str(err)


# ---------------------------------------------------------------- local


def test_local_round_trip(tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(b"a,b\n1,2\n")
    dest_url = f"file://{tmp_path}/out/deep/copy.csv"
    assert upload_file(src, dest_url) == dest_url
    assert read_bytes(dest_url) == b"a,b\n1,2\n"
    assert object_size(tmp_path / "out" / "deep" / "copy.csv") == 8
    got = download_to(str(src), tmp_path / "dl" / "x.csv")
    assert got.read_bytes() == b"a,b\n1,2\n"
    assert not list(tmp_path.rglob("*.part"))


def test_local_write_is_atomic(tmp_path, monkeypatch):
    """A copy that fails half-way leaves the old destination intact and no temporary file."""
    src = tmp_path / "new.csv"
    src.write_bytes(b"new content" * 1000)
    dest = tmp_path / "out.csv"
    dest.write_bytes(b"old")

    def broken_copy(a, b):
        Path(b).write_bytes(b"partial")
        raise OSError(5, "I/O error")

    monkeypatch.setattr(storage.shutil, "copyfile", broken_copy)
    with pytest.raises(DataSourceError, match="cannot write"):
        upload_file(src, dest)
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv", "out.csv"]


def test_local_missing_file(tmp_path):
    with pytest.raises(DataSourceError, match=r"does not exist; check spec\.dataSource"):
        read_bytes(tmp_path / "nope.csv")
    with pytest.raises(DataSourceError, match="is a directory"):
        read_bytes(tmp_path)


def test_local_dir_round_trip(tmp_path):
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "a.json").write_text("{}")
    (tmp_path / "model" / "sub" / "w.bin").write_bytes(b"\x00" * 10)
    urls = upload_dir(tmp_path / "model", str(tmp_path / "published"))
    assert urls == [str(tmp_path / "published" / "a.json"), str(tmp_path / "published" / "sub" / "w.bin")]
    files = download_prefix(str(tmp_path / "published"), tmp_path / "back")
    assert [p.relative_to(tmp_path / "back").as_posix() for p in files] == ["a.json", "sub/w.bin"]


# ---------------------------------------------------------------- S3


def test_s3_round_trip(s3, tmp_path):
    src = tmp_path / "table.csv"
    src.write_bytes(b"a,b\n1,2\n")
    url = f"s3://{BUCKET}/in/table.csv"
    assert upload_file(src, url, s3) == url
    assert read_bytes(url, s3) == b"a,b\n1,2\n"
    assert object_size(url, s3) == 8
    assert s3.head_object(Bucket=BUCKET, Key="in/table.csv")["ContentType"] == "text/csv"
    dest = download_to(url, tmp_path / "dl" / "t.csv", s3)
    assert dest.read_bytes() == b"a,b\n1,2\n"
    upload_file(src, f"s3://{BUCKET}/x.bin", s3, content_type="application/x-test")
    assert s3.head_object(Bucket=BUCKET, Key="x.bin")["ContentType"] == "application/x-test"


def test_s3_client_from_environment(s3_env, monkeypatch):
    """No explicit client: endpoint and credentials come from the standard AWS env vars."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env.endpoint_url)
    s3_env.client().create_bucket(Bucket=BUCKET)
    s3_env.client().put_object(Bucket=BUCKET, Key="k.txt", Body=b"hello")
    assert read_bytes(f"s3://{BUCKET}/k.txt") == b"hello"


def test_s3_multipart_upload(s3, tmp_path):
    """A 17 MiB file with a 5 MiB threshold goes up in 4 parts and comes back byte-identical."""
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(17 * MB))
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, max_concurrency=2)
    url = f"s3://{BUCKET}/big/big.bin"
    upload_file(src, url, s3, transfer_config=config)
    head = s3.head_object(Bucket=BUCKET, Key="big/big.bin")
    assert head["ETag"].strip('"').endswith("-4"), "expected a 4-part multipart ETag"
    assert head["ContentLength"] == 17 * MB
    dest = download_to(url, tmp_path / "big-back.bin", s3, transfer_config=config)
    assert _sha(dest) == _sha(src)


def test_s3_dir_round_trip_with_cache(s3, tmp_path):
    model = tmp_path / "adapter"
    (model / "sub").mkdir(parents=True)
    (model / "adapter_config.json").write_text('{"r": 8}')
    (model / "sub" / "weights.bin").write_bytes(b"w" * 1000)
    prefix = f"s3://{BUCKET}/jobs/j1/adapter"
    assert upload_dir(model, prefix, s3) == [f"{prefix}/adapter_config.json", f"{prefix}/sub/weights.bin"]

    cache = tmp_path / "cache"
    files = download_prefix(prefix, tmp_path / "dl1", s3, cache_dir=cache)
    assert [f.read_bytes() for f in files] == [b'{"r": 8}', b"w" * 1000]
    assert len([p for p in cache.rglob("*") if p.is_file()]) == 2

    # Second time: served from the cache (a download now would fail).
    real_download = s3.download_file
    s3.download_file = lambda *a, **k: pytest.fail("downloaded although cached")
    again = download_prefix(prefix + "/", tmp_path / "dl2", s3, cache_dir=cache)
    assert [f.read_bytes() for f in again] == [b'{"r": 8}', b"w" * 1000]

    # A changed object has a new ETag: fetched again.
    s3.download_file = real_download
    s3.put_object(Bucket=BUCKET, Key="jobs/j1/adapter/adapter_config.json", Body=b'{"r": 16}')
    third = download_prefix(prefix, tmp_path / "dl3", s3, cache_dir=cache)
    assert third[0].read_bytes() == b'{"r": 16}'
    assert files[0].read_bytes() == b'{"r": 8}'


def test_s3_empty_prefix(s3, tmp_path):
    with pytest.raises(DataSourceError, match="holds no objects"):
        download_prefix(f"s3://{BUCKET}/nothing/here", tmp_path / "x", s3)


def test_s3_missing_bucket(s3, tmp_path):
    src = tmp_path / "f.csv"
    src.write_text("a\n1\n")
    with pytest.raises(DataSourceError, match="bucket 'no-such-bucket' does not exist") as read_err:
        read_bytes("s3://no-such-bucket/x.csv", s3)
    assert "spec.dataSource" in str(read_err.value)
    with pytest.raises(DataSourceError, match="bucket 'no-such-bucket' does not exist"):
        download_to("s3://no-such-bucket/x.csv", tmp_path / "x.csv", s3)  # HEAD 404, no error code
    with pytest.raises(DataSourceError, match=r"bucket 'no-such-bucket' does not exist.*spec\.output"):
        upload_file(src, "s3://no-such-bucket/out/f.csv", s3)


def test_s3_missing_object(s3, tmp_path):
    expected = rf"s3://{BUCKET}/missing\.csv does not exist; check spec\.dataSource"
    with pytest.raises(DataSourceError, match=expected):
        read_bytes(f"s3://{BUCKET}/missing.csv", s3)
    with pytest.raises(DataSourceError, match=expected):
        download_to(f"s3://{BUCKET}/missing.csv", tmp_path / "m.csv", s3)
    with pytest.raises(DataSourceError, match=expected):
        object_size(f"s3://{BUCKET}/missing.csv", s3)
    assert not (tmp_path / "m.csv").exists()
    assert not list(tmp_path.glob("*.part"))


def test_s3_wrong_credentials(s3_env, s3):
    """moto checks signatures and IAM policies once auth is switched on (``/moto-api/reset-auth``).

    Unknown key -> InvalidAccessKeyId, wrong secret -> SignatureDoesNotMatch, valid key without a
    policy -> AccessDenied: real 403 answers over HTTP, each mapped to a message naming the Secret.
    """
    s3.put_object(Bucket=BUCKET, Key="k.csv", Body=b"a\n1\n")
    iam = s3_env.client("iam")
    iam.create_user(UserName="runner")
    good = iam.create_access_key(UserName="runner")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="runner", PolicyName="s3", PolicyDocument=json.dumps(policy))
    iam.create_user(UserName="nobody")
    powerless = iam.create_access_key(UserName="nobody")["AccessKey"]
    settings = S3Settings(endpoint=s3_env.endpoint_url, addressingStyle="path")

    def client(key_id: str, secret: str):
        env = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
        return make_s3_client(settings, environ=env, max_attempts=1)

    url = f"s3://{BUCKET}/k.csv"
    with s3_env.iam_auth():
        assert read_bytes(url, client(good["AccessKeyId"], good["SecretAccessKey"])) == b"a\n1\n"
        cases = [
            (client("AKIAIOSFODNN7EXAMPLE", "x" * 40), "InvalidAccessKeyId"),
            (client(good["AccessKeyId"], "wrong-secret"), "SignatureDoesNotMatch"),
            (client(powerless["AccessKeyId"], powerless["SecretAccessKey"]), "AccessDenied"),
        ]
        for bad, code in cases:
            with pytest.raises(DataSourceError) as info:
                read_bytes(url, bad)
            message = str(info.value)
            assert code in message
            assert "spec.s3.credentialsSecret" in message and "AWS_SECRET_ACCESS_KEY" in message
            assert "wrong-secret" not in message
        with pytest.raises(DataSourceError, match=r"HTTP 403.*credentialsSecret"):
            object_size(url, cases[0][0])  # HEAD: a bare 403 without an error code


def test_s3_endpoint_unreachable(s3_env):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_s3_client(
        S3Settings(endpoint=f"http://127.0.0.1:{port}"), max_attempts=1, connect_timeout=2
    )
    with pytest.raises(TransientError, match="cannot reach the S3 endpoint") as info:
        read_bytes(f"s3://{BUCKET}/k.csv", client)
    assert isinstance(info.value, SafeSynthesizerError) and info.value.exit_code == 3
