"""The mount against a foreign S3 endpoint (moto's server), whatever the main endpoint is.

When the session's endpoint is our node, this module still checks the plain-S3 backend:
a handful of the semantics tests run again on a moto server of its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_semantics as sem
import test_tools as tools
from mountkit import Endpoint, Moto, MountFactory, free_port, s3_client

pytestmark = [pytest.mark.fuse, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def moto() -> Iterator[Endpoint]:
    server = Moto(free_port()).start()
    yield Endpoint(server.url, "moto", s3_client(server.url), server.stop)
    server.stop()


@pytest.fixture
def foreign(moto: Endpoint, mount_factory: MountFactory,
            request: pytest.FixtureRequest) -> tuple[sem.Mount, Endpoint, str]:
    bucket = f"foreign-{request.node.name.split('[')[-1].strip(']').replace('_', '-')}"[:60]
    moto.s3.create_bucket(Bucket=bucket)
    return mount_factory(bucket, url=moto.url), moto, bucket


@pytest.mark.parametrize("case", [
    "create_write_read_visible_through_s3", "overwrite_random_write_append_truncate",
    "unlink_open_file_keeps_fd_data_and_object_stays_gone", "rename_file_and_onto_existing",
    "rename_directory_moves_every_key", "mkdir_rmdir_markers_and_implied_dirs",
])
def test_plain_s3(foreign: tuple[sem.Mount, Endpoint, str], case: str) -> None:
    getattr(sem, f"test_{case}")(*foreign)


def test_plain_s3_exerciser(foreign: tuple[sem.Mount, Endpoint, str], tmp_path: sem.Path) -> None:
    m, ep, bucket = foreign
    tools.test_random_exerciser_against_twin(m, ep, bucket, tmp_path, seed=9)
