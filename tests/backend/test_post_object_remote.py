"""POST Object (browser form) to a backend bucket (s3://B behind a front node): a clean
501 NotImplemented, nothing written to the backend; a local bucket of the same node still
takes the form."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from support.moto import MotoServer
from support.node import NodeProcess, new_node

from .conftest import FRONT_KEY, FRONT_SECRET, Target, front_config


def _post(url: str, fields: dict[str, str], data: bytes) -> tuple[int, bytes]:
    cmd = ["curl", "-sS", "-w", "\n%{http_code}", url]
    for name, value in fields.items():
        cmd += ["--form-string", f"{name}={value}"]
    cmd += ["-F", "file=@-;filename=f.txt"]
    res = subprocess.run(cmd, input=data, capture_output=True, timeout=60, check=True)
    body, _, status = res.stdout.rpartition(b"\n")
    return int(status), body


@pytest.mark.parametrize("signed", [False, True], ids=["open", "signed"])
def test_a_form_to_a_backend_bucket_is_501(moto_server: MotoServer, signed: bool,
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    import boto3
    from botocore.config import Config

    target = Target("moto", moto_server.endpoint, moto_server.access_key,
                    moto_server.secret_key)
    bucket = target.new_bucket()
    node: NodeProcess = new_node(tmp_path_factory.mktemp("post-front"),
                                 config=front_config(target, signed)).start()
    try:
        s3 = boto3.client("s3", endpoint_url=node.s3_url, region_name="us-east-1",
                          aws_access_key_id=FRONT_KEY, aws_secret_access_key=FRONT_SECRET,
                          config=Config(signature_version="s3v4",
                                        retries={"max_attempts": 1}))
        s3.head_bucket(Bucket=bucket)
        post = s3.generate_presigned_post(bucket, "k")
        status, body = _post(post["url"], post["fields"], b"data")
        assert status == 501, body
        assert ET.fromstring(body).findtext("Code") == "NotImplemented"
        listed = target.client().list_objects_v2(Bucket=bucket)
        assert listed.get("KeyCount", 0) == 0
        s3.create_bucket(Bucket="local-" + bucket[-8:])
        post = s3.generate_presigned_post("local-" + bucket[-8:], "k")
        assert _post(post["url"], post["fields"], b"data")[0] == 204
    finally:
        node.stop()
