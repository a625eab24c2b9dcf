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
