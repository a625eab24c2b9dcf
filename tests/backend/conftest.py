"""Real S3 backends for the backend tests: moto server, Ceph RGW, a SigV4 aisfs node.

Each is session-scoped and started only when a test asks for it; under pytest-xdist every
worker starts its own (a Ceph cluster is ~2 s and ~130 MiB: cheaper than sharing one
across processes). Tests use a fresh bucket each, so they never see each other's objects.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aisfs.backend import Backends, RemoteObjects, Resolved, open_remote_objects
from aisfs.backend.provider import BucketRef, Provider
from aisfs.config import BackendConfig, BackendS3Config
from aisfs.store import Store, StoreConfig, open_store
from support.ceph import CephCluster
from support.moto import MotoServer
from support.node import NodeProcess, new_node

AIS_KEY = "AKIDBACKEND"
AIS_SECRET = "backend-s3cr3t-never-logged"
SIGV4_CONFIG = f"""
[auth]
mode = "sigv4"
access_keys = {{ {AIS_KEY} = "{AIS_SECRET}" }}
"""

BACKENDS = ["moto", "ceph", "aisfs"]


@dataclass
class Target:
    """One running S3 backend and how to reach it."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str

    def client(self, secret: str | None = None) -> Any:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret if secret is not None else self.secret_key,
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"},
                          request_checksum_calculation="when_required",
                          response_checksum_validation="when_required"),
        )

    def new_bucket(self) -> str:
        name = f"bk-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def config(self, **over: Any) -> BackendConfig:
        params: dict[str, Any] = dict(
            endpoint=self.endpoint, access_key=self.access_key, secret_key=self.secret_key,
            connect_timeout=2.0, read_timeout=10.0, retries=2,
        )
        params.update(over)
        return BackendConfig(s3=BackendS3Config(**params))


@pytest.fixture(scope="session")
def ceph_cluster() -> Iterator[CephCluster]:
    why = CephCluster.unavailable()
    if why:
        pytest.skip(why)
    cluster = CephCluster.start_new()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer.start_new()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sigv4_backend_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """A second aisfs node that checks every signature, as a backend."""
    node = new_node(tmp_path_factory.mktemp("backend-node"), config=SIGV4_CONFIG).start()
    try:
        yield node
    finally:
        code = node.stop()
        log = node.log()
        assert code == 0, log
        assert AIS_SECRET not in log
        assert "Traceback" not in log, log


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest) -> Target:
    if request.param == "moto":
        m: MotoServer = request.getfixturevalue("moto_server")
        return Target("moto", m.endpoint, m.access_key, m.secret_key)
    if request.param == "ceph":
        c: CephCluster = request.getfixturevalue("ceph_cluster")
        return Target("ceph", c.endpoint, c.access_key, c.secret_key)
    n: NodeProcess = request.getfixturevalue("sigv4_backend_node")
    return Target("aisfs", n.s3_url, AIS_KEY, AIS_SECRET)


def store_config(tmp_path: Path, **kw: Any) -> StoreConfig:
    mps = []
    for i in range(2):
        p = tmp_path / f"mp{i}"
        p.mkdir(parents=True, exist_ok=True)
        mps.append(p)
    params: dict[str, Any] = {"chunk_size": 1024 * 1024, "fsync": False}
    params.update(kw)
    return StoreConfig(mountpaths=mps, index_dir=tmp_path / "index", **params)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(store_config(tmp_path / "front")) as s:
        yield s
        report = await s.fsck(rebuild=False)
        assert report.clean, report


@dataclass
class Front:
    """The node side under test: a store, RemoteObjects and one remote bucket."""

    store: Store
    backends: Backends
    ro: RemoteObjects
    target: Target
    bucket: str  # the backend's bucket name
    rb: Resolved  # s3://bucket

    def resolved(self, **props: Any) -> Resolved:
        return self.backends.resolve(BucketRef(Provider.AWS, self.bucket), props)


@pytest.fixture
async def front(store: Store, target: Target) -> AsyncIterator[Front]:
    backends = Backends(target.config(part_size=5 * 1024 * 1024,
                                      multipart_threshold=6 * 1024 * 1024))
    bucket = target.new_bucket()
    async with open_remote_objects(store, backends) as ro:
        rb = backends.resolve(BucketRef(Provider.AWS, bucket), {})
        yield Front(store, backends, ro, target, bucket, rb)
    await backends.aclose()


# == front nodes: a node process whose [backend.s3] is a target (test_node_*.py) ========

FRONT_KEY = "AKIDFRONT"
FRONT_SECRET = "front-s3cr3t"


def front_config(target: Target, signed: bool = False, **over: Any) -> str:
    lines = [
        "[backend.s3]",
        f'endpoint = "{over.pop("endpoint", target.endpoint)}"',
        f'access_key = "{target.access_key}"',
        f'secret_key = "{target.secret_key}"',
        "part_size = 5242880",
        "multipart_threshold = 6291456",
        f"copy_max = {over.pop('copy_max', 5 * 1024**3)}",
        "connect_timeout = 2.0",
        "read_timeout = 10.0",
        f"retries = {over.pop('retries', 1)}",
    ]
    if signed:
        lines += ["[auth]", 'mode = "sigv4"', f'access_keys = {{ {FRONT_KEY} = "{FRONT_SECRET}" }}']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def _fronts() -> Iterator[dict[tuple[str, bool], NodeProcess]]:
    """The front nodes of the session, one per (target, signed); each must stop cleanly
    (its backend clients closed, fills cancelled: exit 0, no traceback, no secret)."""
    nodes: dict[tuple[str, bool], NodeProcess] = {}
    try:
        yield nodes
    finally:
        codes = {key: n.stop() for key, n in nodes.items()}
        for key, n in nodes.items():
            text = n.log()
            assert codes[key] == 0 and "Traceback" not in text, text[-4000:]
            assert FRONT_SECRET not in text and AIS_SECRET not in text


@pytest.fixture(params=[False, True], ids=["open", "signed"])
def front_node(
    request: pytest.FixtureRequest, target: Target,
    _fronts: dict[tuple[str, bool], NodeProcess], tmp_path_factory: pytest.TempPathFactory,
) -> NodeProcess:
    signed = bool(request.param)
    node = _fronts.get((target.name, signed))
    if node is None:
        node = new_node(tmp_path_factory.mktemp(f"front-{target.name}"),
                        config=front_config(target, signed)).start()
        node.signed = signed  # type: ignore[attr-defined]
        _fronts[(target.name, signed)] = node
    return node


def raw_front(tmp_path: Path, port: int, signed: bool) -> Iterator[NodeProcess]:
    """A front node over a raw-socket fake backend on ``port`` (support/raw_backend.py),
    no retries; ``signed``: it checks its clients' signatures (``client_of`` signs). A
    fixture's body: ``yield from raw_front(...)``; the node must stop cleanly."""
    target = Target("raw", f"http://127.0.0.1:{port}", "a", "b")
    node = new_node(tmp_path / "front", config=front_config(target, signed, retries=0)).start()
    node.signed = signed  # type: ignore[attr-defined]
    try:
        yield node
    finally:
        assert node.stop() == 0


def client_of(node: NodeProcess) -> Any:
    import boto3
    from botocore.config import Config

    signed = getattr(node, "signed", False)
    return boto3.client(
        "s3", endpoint_url=node.s3_url, region_name="us-east-1",
        aws_access_key_id=FRONT_KEY if signed else "anything",
        aws_secret_access_key=FRONT_SECRET if signed else "anything",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def cached(resp: dict[str, Any]) -> str:
    return str(resp["ResponseMetadata"]["HTTPHeaders"]["ais-cached"])


def wait_cached(s3: Any, bucket: str, key: str) -> None:
    """Until the cold GET's fill of ``key`` landed (it commits after the body is sent)."""
    for _ in range(500):
        if cached(s3.head_object(Bucket=bucket, Key=key)) == "true":
            return
        time.sleep(0.02)
    raise AssertionError(f"{key} was not cached")
