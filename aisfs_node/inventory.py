"""Native Bucket Inventory on the node: create (a job), show, remove, and listings served
from an inventory - S3 ListObjects(V2) with ``Ais-Bucket-Inventory: true`` here, ``/v1``
with the ``LsNBI`` flag in ``aisfs_node.native.inventory``.

Creation is a job of AIS's kind ``create-inventory`` (``aisfs_node.jobs``): the backend is
listed page by page (``S3Backend.iter_pages``: one page in memory) and each page is a
batch of the inventory file (``aisfs.inventory.InventoryWriter``), published whole at the
end. One creation per bucket at a time (AIS's rule); a name must be new unless ``force``
(then the new inventory replaces the old one when, and only when, it is complete).

A listing from an inventory answers exactly what a listing from the backend would (the
same XML), with the inventory's keys: prefix, delimiter (one seek per common prefix),
max-keys, continuation token / marker / start-after. No inventory: AIS's 400 ``bucket
"s3://B" has no inventories``; a name that is not there: 404.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
import weakref
from pathlib import Path
from typing import Any

import trio

from aisfs.backend import RemoteObjects, Resolved
from aisfs.backend.provider import BucketRef
from aisfs.errors import S3Error
from aisfs.inventory import (
    ACT_CREATE_NBI,
    HDR_INV_NAME,
    HDR_INVENTORY,
    Catalog,
    InvPage,
    check_name,
    list_page,
    new_name,
    open_reader,
    wants_inventory,
)
from aisfs.inventory.writer import Row
from aisfs.jobs import Job
from aisfs.jobs.record import new_job_id
from aisfs.store.store import Store
from aisfs_node.http import Response
from aisfs_node.jobs import JobRunner
from aisfs_node.s3.context import Context
from aisfs_node.s3.listing import list_query, list_result

log = logging.getLogger("aisfs.inventory")

PAGE = 1000  # keys per backend page while creating (S3's page)
_CATALOGS: weakref.WeakKeyDictionary[Store, Catalog] = weakref.WeakKeyDictionary()


def catalog_of(store: Store) -> Catalog:
    """The node's inventories (``<index_dir>/inventory``); the first call sweeps what
    creations cut short by a crash or a stop left (before any creation runs)."""
    cat = _CATALOGS.get(store)
    if cat is None:
        cat = Catalog(Path(store.config.index_dir) / "inventory", fsync=store.config.fsync)
        swept = cat.sweep()
        if swept:
            log.info("inventory: removed %d unfinished inventory files", swept)
        _CATALOGS[store] = cat
    return cat


# == create ============================================================================


def start_create(runner: JobRunner, remote: RemoteObjects, rb: Resolved, *, name: str = "",
                 prefix: str = "", force: bool = False) -> Job:
    """Start creating an inventory of ``rb`` (a remote bucket); the job (its id is the
    inventory's default name when none is given, as AIS's)."""
    if not rb.is_remote:
        raise S3Error("InvalidRequest", f"{ACT_CREATE_NBI}: {rb.bucket} is not a remote "
                      "bucket (inventories are of s3:// buckets and ais:// buckets with "
                      "backend_bck)")
    catalog = catalog_of(remote.store)
    uri = rb.bucket.uri
    busy = [j for j in runner.registry.jobs(ACT_CREATE_NBI, running_only=True)
            if j.buckets[:1] == (uri,)]
    if busy:
        raise S3Error("OperationAborted", f"{ACT_CREATE_NBI} {busy[0].id} of {uri} is "
                      "running: one at a time per bucket", status=409)
    job_id = new_job_id()
    if name:
        check_name(name)
    else:
        name = job_id = new_name()
    if not force and name in catalog.names(rb.bucket):
        raise S3Error("InvalidBucketState", f'inventory "{name}" of bucket "{uri}" exists '
                      "(remove it, or create with force)", status=409)
    job = Job(kind=ACT_CREATE_NBI, buckets=(uri,), id=job_id,
              detail={"name": name, "prefix": prefix})

    async def work(job: Job) -> None:
        await create_inventory(job, remote, catalog, rb, name, prefix)

    return runner.start(job, work)


async def create_inventory(job: Job, remote: RemoteObjects, catalog: Catalog, rb: Resolved,
                           name: str, prefix: str) -> None:
    """List the backend into a new inventory file and publish it."""
    assert rb.remote is not None
    started = time.time_ns()
    writer = await trio.to_thread.run_sync(catalog.writer, rb.bucket, name)
    try:
        pages = remote.backend(rb).iter_pages(rb.remote.name, prefix=prefix, page_size=PAGE)
        async with contextlib.aclosing(pages):  # closed when stopped mid-way too
            async for page in pages:
                rows: list[Row] = [(e.key, e.size, e.etag, e.last_modified_ns, e.version)
                                   for e in page.entries]
                await trio.to_thread.run_sync(writer.add, rows)
                job.add(objects=len(rows))  # names listed (AIS shows no bytes for it)
        meta = {"bucket": rb.bucket.uri, "name": name, "prefix": prefix,
                "started": started, "finished": time.time_ns(), "job": job.id}
        ntotal = await trio.to_thread.run_sync(writer.publish, meta)
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(writer.abort)
        raise
    job.objects_total = ntotal
    log.info("inventory %s of %s: %d keys", name, rb.bucket, ntotal)


# == show, remove ======================================================================


async def show(store: Store, bucket: BucketRef | None, name: str = "") -> dict[str, Any]:
    """AIS's ``NBIInfoMap``: by object name (``aws/@#/B/NAME``)."""
    if name:
        check_name(name)
    infos = await trio.to_thread.run_sync(catalog_of(store).show, bucket, name)
    return {i.obj_name: i.to_json() for i in infos}


async def remove(store: Store, bucket: BucketRef, name: str = "") -> list[str]:
    return await trio.to_thread.run_sync(catalog_of(store).remove, bucket, name)


async def drop_bucket(store: Store, bucket: BucketRef) -> None:
    """Every inventory of ``bucket`` removed: the bucket was destroyed, or its metadata
    dropped (``evict-remote-bck`` without ``keep_bck_md``)."""
    names = await trio.to_thread.run_sync(catalog_of(store).drop_bucket, bucket)
    if names:
        log.info("inventory: %s: %d removed with the bucket (%s)", bucket, len(names),
                 ", ".join(names))


# == listing ===========================================================================


async def inventory_page(store: Store, bucket: BucketRef, inv_name: str, *, prefix: str = "",
                         delimiter: str = "", start_after: str = "",
                         max_keys: int = 1000) -> InvPage:
    """One page of a listing from the bucket's inventory ``inv_name`` (or its only one)."""
    catalog = catalog_of(store)

    def run() -> InvPage:
        path = catalog.resolve(bucket, inv_name)
        try:
            conn = open_reader(path)
            try:
                return list_page(conn, prefix=prefix, delimiter=delimiter,
                                 start_after=start_after, max_keys=max_keys)
            finally:
                conn.close()
        except sqlite3.OperationalError as e:  # removed between resolve and open
            if not path.exists():
                raise S3Error("NotFound", f"inventory of {bucket}: {e}", status=404) from e
            raise

    return await trio.to_thread.run_sync(run)


def s3_wants_inventory(ctx: Context) -> bool:
    """Does this S3 listing ask for an inventory (``Ais-Bucket-Inventory: true``)?"""
    return wants_inventory(ctx.header(HDR_INVENTORY))


async def s3_list(ctx: Context, store: Store, rb: Resolved, v2: bool) -> Response:
    """ListObjects(V2) of a remote bucket from its inventory: the XML of any listing."""
    q = list_query(ctx.s3.query, v2)
    inv_name = (ctx.header(HDR_INV_NAME) or "").strip()
    page = await inventory_page(store, rb.bucket, inv_name, prefix=q.prefix,
                                delimiter=q.delimiter, start_after=q.marker,
                                max_keys=q.max_keys)
    body = list_result(ctx.bucket, q, page.entries, page.common_prefixes, page.is_truncated,
                       page.next_marker)
    return Response(200, [("content-type", "application/xml")], body)
