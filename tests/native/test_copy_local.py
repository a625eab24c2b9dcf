"""copy-bck between two ais:// buckets of a node without any backend: the store's copy
(chunks shared), the SDK's job wait, skip and force, errors."""

from __future__ import annotations

import pytest
from aistore.sdk import Client
from aistore.sdk.errors import AISError

from support.node import NodeProcess

pytestmark = pytest.mark.timeout(120)


def test_copy_between_ais_buckets_without_a_backend(shared_node: NodeProcess) -> None:
    client = Client(shared_node.url, timeout=(3, 20))
    src = client.bucket("copy-local-src")
    src.create()
    objs = {f"d/{i}": bytes([i]) * (1000 * i + 1) for i in range(10)}
    for k, v in objs.items():
        src.object(k).get_writer().put_content(v)
    src.object("other").get_writer().put_content(b"x")

    dst = client.bucket("copy-local-dst")
    job_id = src.copy(dst, prefix_filter="d/")
    assert client.job(job_id).wait(timeout=60, verbose=False).success
    got = {e.name: dst.object(e.name).get_reader().read_all()
           for e in dst.list_all_objects()}
    assert got == objs
    # the same again: all there (same size and ETag), skipped; with force: copied
    again = src.copy(dst, prefix_filter="d/")
    assert client.job(again).wait(timeout=60, verbose=False).success
    forced = src.copy(dst, prefix_filter="d/", force=True)
    assert client.job(forced).wait(timeout=60, verbose=False).success
    records = {j["id"]: j for j in _jobs(client)}
    assert records[again]["objects_skipped"] == 10 and records[again]["objects_done"] == 0
    assert records[forced]["objects_done"] == 10

    # provider aws on a node without a backend, and a source that does not exist
    with pytest.raises(AISError) as e:
        src.copy(client.bucket("x", provider="aws"))
    assert e.value.status_code == 400
    with pytest.raises(AISError) as e:
        client.bucket("copy-no-such-src").copy(dst)
    assert e.value.status_code == 404


def _jobs(client: Client) -> list[dict[str, object]]:
    resp = client.cluster().client.request("GET", "cluster", params={"what": "jobs"})
    jobs: list[dict[str, object]] = resp.json()["jobs"]
    return jobs
