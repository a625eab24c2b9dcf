"""Lifecycle rules on a backend bucket: refused 501 (the objects are the backend's, which
the node's lifecycle worker does not expire); none is ever configured there, as AWS
answers for a bucket without one. Over moto, open and signed fronts."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.moto import MotoServer
from support.node import NodeProcess

from .conftest import Target, client_of

RULES = {"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""},
                    "Expiration": {"Days": 1}}]}


@pytest.fixture
def target(moto_server: MotoServer) -> Target:
    return Target("moto", moto_server.endpoint, moto_server.access_key, moto_server.secret_key)


def code_of(e: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_lifecycle_of_a_backend_bucket_is_refused(front_node: NodeProcess,
                                                  target: Target) -> None:
    bucket = target.new_bucket()
    s3: Any = client_of(front_node)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")  # the node knows s3://bucket now
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=RULES)
    assert code_of(e) == ("NotImplemented", 501)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert code_of(e) == ("NoSuchLifecycleConfiguration", 404)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="k")
