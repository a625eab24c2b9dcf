"""Real clients pointed at a node under test."""

from __future__ import annotations

import shutil
from typing import Any


def s3_client(endpoint: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="FAKEKEY",
        aws_secret_access_key="FAKESECRET",
        config=Config(retries={"max_attempts": 1}, **config),
    )


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def fronting(http: Any, name: str, remote: str) -> None:
    """``ais://name`` made on the node ``http`` (an httpx client of its ``/v1``), fronting
    the backend bucket ``remote`` (``backend_bck``)."""
    url = f"/v1/buckets/{name}"
    http.post(url, params={"provider": "ais"}, json={"action": "create-bck"}
              ).raise_for_status()
    http.patch(url, params={"provider": "ais"}, json={
        "action": "set-bprops",
        "value": {"backend_bck": {"name": remote, "provider": "aws"}}}).raise_for_status()
