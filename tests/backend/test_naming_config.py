"""Pure parts of the backend room: bucket naming and resolution, settings and their
redaction, [backend.s3] parsing, error mapping, backoff. No servers."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from aisfs.backend import (
    BucketRef,
    Provider,
    bucket_of_local,
    local_bucket_name,
    normalize_provider,
    parse_bucket_uri,
    resolve,
    settings_for,
)
from aisfs.backend.errors import backend_error, retryable
from aisfs.backend.retry import MAX_DELAY, backoff
from aisfs.backend.s3 import S3Backend
from aisfs.config import BackendS3Config, ConfigError, config_from_mapping, load_config
from aisfs.errors import S3Error

SECRET = "very-secret-value-9f8e7d"


def test_providers_and_uris() -> None:
    assert normalize_provider("s3") is Provider.AWS
    assert normalize_provider("aws") is Provider.AWS
    assert normalize_provider("") is Provider.AIS
    with pytest.raises(S3Error):
        normalize_provider("gcp")
    assert parse_bucket_uri("s3://b1") == BucketRef(Provider.AWS, "b1")
    assert parse_bucket_uri("aws://b1") == BucketRef(Provider.AWS, "b1")
    assert parse_bucket_uri("ais://b1/") == BucketRef(Provider.AIS, "b1")
    assert parse_bucket_uri("b1") == BucketRef(Provider.AIS, "b1")
    assert str(parse_bucket_uri("aws://b1")) == "s3://b1"
    for bad in ("s3://", "s3://a/b", "gs://x"):
        with pytest.raises(S3Error):
            parse_bucket_uri(bad)


def test_local_names_never_collide_with_ais_buckets() -> None:
    s3b = BucketRef(Provider.AWS, "data")
    assert local_bucket_name(s3b) == "@aws:data"
    assert local_bucket_name(BucketRef(Provider.AIS, "data")) == "data"
    assert bucket_of_local("@aws:data") == s3b
    assert bucket_of_local("data") == BucketRef(Provider.AIS, "data")


def test_resolve() -> None:
    cfg = BackendS3Config(endpoint="http://ceph:7480", access_key="AK", secret_key=SECRET)
    plain = resolve(BucketRef(Provider.AIS, "a"), {}, cfg)
    assert not plain.is_remote and plain.local == "a" and plain.settings is None

    direct = resolve(BucketRef(Provider.AWS, "b"), {}, cfg)
    assert direct.remote == BucketRef(Provider.AWS, "b") and direct.local == "@aws:b"
    assert direct.settings is not None and direct.settings.endpoint == "http://ceph:7480"

    for bck in ("s3://b", {"name": "b", "provider": "aws"}):
        fronted = resolve(BucketRef(Provider.AIS, "a"), {"backend_bck": bck}, cfg)
        assert fronted.local == "a" and fronted.remote == BucketRef(Provider.AWS, "b")
    flat = resolve(BucketRef(Provider.AIS, "a"), {"backend_bck.name": "b"}, cfg)
    assert flat.remote == BucketRef(Provider.AWS, "b")
    with pytest.raises(S3Error):
        resolve(BucketRef(Provider.AIS, "a"), {"backend_bck": "ais://x"}, cfg)

    over = resolve(BucketRef(Provider.AWS, "b"), {
        "extra.aws.endpoint": "http://minio:9000/", "extra.aws.cloud_region": "eu-west-1",
        "versioning.synchronize": "true",
    }, cfg)
    assert over.settings is not None
    assert (over.settings.endpoint, over.settings.region) == ("http://minio:9000", "eu-west-1")
    assert over.settings.access_key == "AK"  # the node's keys still
    assert over.synchronize and over.validate_warm_get
    nested = resolve(BucketRef(Provider.AWS, "b"),
                     {"extra": {"aws": {"profile": "other"}},
                      "versioning": {"validate_warm_get": True}}, cfg)
    assert nested.settings is not None and nested.settings.profile == "other"
    assert nested.settings.access_key == "" and nested.settings.secret_key == ""
    assert nested.validate_warm_get and not nested.synchronize


def test_secrets_never_in_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    cfg = config_from_mapping({"backend": {"s3": {
        "endpoint": "http://x:1", "access_key": "AK", "secret_key": SECRET,
        "session_token": SECRET + "-tok",
    }}}).resolve()
    settings = settings_for(cfg.backend.s3)
    rb = resolve(BucketRef(Provider.AWS, "b"), {}, cfg.backend.s3)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("config %s %r %s %r %s", cfg, cfg, settings, rb,
                                    S3Backend(settings))
    for text in (repr(cfg), str(cfg), repr(settings), str(settings), repr(rb), caplog.text):
        assert SECRET not in text
    assert "secret_key='***'" in repr(settings) and "AK" in repr(settings)


@pytest.mark.parametrize(("table", "message"), [
    ({"addressing": "dns"}, "backend.s3.addressing: must be path or virtual"),
    ({"endpoint": "ceph:7480"}, "backend.s3.endpoint: expected http(s)://"),
    ({"access_key": "AK"}, "backend.s3.access_key: access_key and secret_key go together"),
    ({"part_size": 1024}, "backend.s3.part_size: must be between 5 MiB and 5 GiB"),
    ({"copy_max": 6 * 1024**3}, "backend.s3.copy_max: must be between 5 MiB and 5 GiB"),
    ({"copy_max": -1}, "backend.s3.copy_max: must be between 5 MiB and 5 GiB"),
    ({"read_timeout": 0}, "backend.s3.read_timeout: must be positive"),
    ({"max_concurrency": 0}, "backend.s3.max_concurrency: must be at least 1"),
    ({"retries": -1}, "backend.s3.retries: must not be negative"),
    ({"ca_file": "/nonexistent/ca.pem"}, "backend.s3.ca_file: no such file"),
    ({"verify_tls": "yes"}, "backend.s3.verify_tls: expected bool"),
    ({"bogus": 1}, "backend.s3.bogus: unknown setting"),
])
def test_config_errors_are_one_line(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config_from_mapping({"backend": {"s3": table}}).resolve()
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_config_from_toml(tmp_path: Path) -> None:
    f = tmp_path / "node.toml"
    f.write_text(
        '[backend.s3]\nendpoint = "https://rgw.example:443"\nregion = "eu-1"\n'
        'addressing = "virtual"\nverify_tls = false\npart_size = 67108864\n'
        "connect_timeout = 3\n"
    )
    s3 = load_config(f).resolve().backend.s3
    assert (s3.endpoint, s3.region, s3.addressing, s3.verify_tls) == (
        "https://rgw.example:443", "eu-1", "virtual", False)
    assert s3.part_size == 64 << 20 and s3.connect_timeout == 3.0
    assert (s3.access_key, s3.secret_key) == ("", "")  # the AWS chain


def _client_error(code: str, status: int, message: str = "m") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message},
                     "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")


def test_error_mapping() -> None:
    label = "s3 backend http://ceph:7480"
    cases = [
        (_client_error("NoSuchKey", 404), "NoSuchKey", 404),
        (_client_error("404", 404), "NoSuchKey", 404),  # a HEAD
        (_client_error("NoSuchBucket", 404), "NoSuchBucket", 404),
        (_client_error("AccessDenied", 403), "AccessDenied", 403),
        (_client_error("SignatureDoesNotMatch", 403), "AccessDenied", 403),
        (_client_error("403", 403), "AccessDenied", 403),
        (_client_error("PreconditionFailed", 412), "PreconditionFailed", 412),
        (_client_error("412", 412), "PreconditionFailed", 412),
        (_client_error("InvalidRange", 416), "InvalidRange", 416),
        (_client_error("SlowDown", 503), "ServiceUnavailable", 503),
        (_client_error("InternalError", 500), "ServiceUnavailable", 503),
        (EndpointConnectionError(endpoint_url="http://ceph:7480"), "ServiceUnavailable", 503),
        (ReadTimeoutError(endpoint_url="http://ceph:7480"), "ServiceUnavailable", 503),
        (ConnectionRefusedError(111, "refused"), "ServiceUnavailable", 503),
    ]
    for exc, code, status in cases:
        err = backend_error(exc, label, "k")
        assert (err.code, err.status) == (code, status), exc
        if status in (403, 503):
            assert label in err.message
    assert retryable(_client_error("SlowDown", 503)) and retryable(_client_error("x", 500))
    assert retryable(EndpointConnectionError(endpoint_url="u"))
    assert not retryable(_client_error("NoSuchKey", 404))
    assert not retryable(_client_error("AccessDenied", 403))


def test_backoff_is_bounded_and_jittered() -> None:
    for attempt in range(1, 12):
        for _ in range(20):
            assert 0 <= backoff(attempt) <= MAX_DELAY
    assert len({backoff(3) for _ in range(20)}) > 1
