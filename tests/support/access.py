"""Two users (alice, bob), an admin (root) and anonymous callers against a real sigv4
node: what the ACL, public access block and ownership tests share."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.node import NodeProcess, new_node

ALICE = ("AKALICE", "alice-secret-acl-tests")
BOB = ("AKBOB", "bob-secret-acl-tests")
ROOTK = ("AKROOT", "root-secret-acl-tests")
CONFIG = f"""
[store]
fsync = false
[auth]
mode = "sigv4"
[auth.users.alice]
display_name = "Alice A."
access_keys = {{ {ALICE[0]} = "{ALICE[1]}" }}
[auth.users.bob]
access_keys = {{ {BOB[0]} = "{BOB[1]}" }}
[auth.users.root]
admin = true
access_keys = {{ {ROOTK[0]} = "{ROOTK[1]}" }}
"""
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def start(tmp_path: Path) -> NodeProcess:
    return new_node(tmp_path, config=CONFIG).start()


def client(node: NodeProcess, key: tuple[str, str] | None) -> Any:
    """A boto3 client signing with ``key``; None: anonymous (unsigned)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    if key is None:
        return boto3.client("s3", endpoint_url=node.s3_url, region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED,
                                          retries={"max_attempts": 1}))
    return boto3.client(
        "s3", endpoint_url=node.s3_url, region_name="us-east-1", aws_access_key_id=key[0],
        aws_secret_access_key=key[1], config=Config(retries={"max_attempts": 1}))


def grants(acl: dict[str, Any]) -> set[tuple[str, str]]:
    """(grantee's URI or id, permission) of each grant of a Get*Acl answer."""
    return {(g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"])
            for g in acl["Grants"]}


def error_of(call: Any, **kw: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call(**kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def denied(call: Any, **kw: Any) -> None:
    assert error_of(call, **kw) in (("AccessDenied", 403), ("403", 403))


def user_id(node: NodeProcess, key: tuple[str, str]) -> str:
    return str(client(node, key).list_buckets()["Owner"]["ID"])


def curl(url: str, method: str = "GET") -> tuple[int, bytes]:
    """A plain request with no credentials (curl, as a browser or a script would)."""
    out = subprocess.run(["curl", "-s", "-X", method, "-o", "-", "-w", "\n%{http_code}", url],
                         capture_output=True, timeout=30, check=True).stdout
    body, _, code = out.rpartition(b"\n")
    return int(code), body


def urlopen_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
