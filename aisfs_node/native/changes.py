"""``GET /v1/buckets/B?what=changes&since=EPOCH.SEQ&wait=S``: the bucket's change feed.

What changed in the bucket's current objects after the position ``since`` (the store's
``ChangeLog``, aisfs/store/changes.py): ``{epoch, seq, position, lost, changes: [{seq,
key, what, etag, size, mtime_ns}]}``. A long poll: with no change after ``since`` the
answer waits up to ``wait`` seconds (at most ``MAX_WAIT``) for one. Without ``since`` it is
the current position and no changes (a subscriber's start). ``lost``: the epoch is not
this process's (the node restarted) or changes after ``since`` fell off the ring - the
subscriber may have missed changes and starts over from ``position``.

Only a local bucket's changes are all the node's to tell: a bucket with a backend (an
``s3://`` bucket, an ``ais://`` one with ``backend_bck``) changes out of band, so its feed
answers 501 NotImplemented. Auth is the bucket's listing's (``native_auth.gate``).
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING, Any

import trio

from aisfs.errors import S3Error
from aisfs.store.changes import ChangeLog, Since, parse_position
from aisfs_node.http import Response
from aisfs_node.native.wire import MAX_CONTROL_BODY, Ctx, Node, json_response

if TYPE_CHECKING:
    from aisfs_node.native.remote import RemoteNative

MAX_WAIT = 30.0


class Waker:
    """Wakes the long polls on the event loop when the ring records (from any thread)."""

    def __init__(self, log: ChangeLog) -> None:
        self.event = trio.Event()
        self.token = trio.lowlevel.current_trio_token()
        log.listeners.append(self.wake)

    def wake(self) -> None:
        try:
            self.token.run_sync_soon(self._set)
        except trio.RunFinishedError:
            pass

    def _set(self) -> None:
        self.event.set()
        self.event = trio.Event()


# one per ring (a store's), gone with it: keyed by the ring itself, not its id(), which a
# later store's ring could be given
_WAKERS: weakref.WeakKeyDictionary[ChangeLog, Waker] = weakref.WeakKeyDictionary()


def _waker(log: ChangeLog) -> Waker:
    got = _WAKERS.get(log)
    if got is None or got.token is not trio.lowlevel.current_trio_token():
        got = _WAKERS[log] = Waker(log)
    return got


def _wait_of(text: str | None) -> float:
    if text is None or text == "":
        return 0.0
    try:
        wait = float(text)
    except ValueError:
        raise S3Error("InvalidArgument", f"changes: wait={text[:40]!r} is not a number") from None
    if not math.isfinite(wait) or wait < 0:
        raise S3Error("InvalidArgument", "changes: wait must be a number of seconds >= 0")
    return min(wait, MAX_WAIT)


async def changes(node: Node, ctx: Ctx, remote: RemoteNative | None) -> Response:
    ctx.operation = "ListChanges"
    q = ctx.http.query_dict()
    await ctx.http.read_body(MAX_CONTROL_BODY)
    wait = _wait_of(q.get("wait"))
    since = q.get("since")
    position: tuple[str, int] | None = None
    if since:
        try:
            position = parse_position(since)
        except ValueError as e:
            raise S3Error("InvalidArgument", f"changes: {e}") from None
    bucket = ctx.bucket
    if q.get("namespace", "") not in ("", "@#"):
        raise S3Error("InvalidArgument", f"namespace {q['namespace']!r} is not supported")
    if q.get("provider", "") not in ("", "ais") or (
            remote is not None and await remote.changes_out_of_band(bucket)):
        raise S3Error("NotImplemented", f"the change feed of bucket {bucket!r} is not "
                      "the node's to tell: it has a backend (its objects change out of "
                      "band)", bucket, status=501)
    await node.store.get_bucket(bucket)  # NoSuchBucket: 404
    log = node.store.publisher.changes
    if position is None:
        epoch, seq = log.position()
        return _answer(Since(epoch, seq, False))
    got = log.since(position[0], position[1], bucket)
    if got.changes or got.lost or wait <= 0 or log.closed:
        return _answer(got)
    waker = _waker(log)
    log.waiting += 1
    try:
        with trio.move_on_after(wait):
            while not log.closed:
                event = waker.event  # (taken before looking: a record after wakes it)
                got = log.since(got.epoch, got.seq, bucket)
                if got.changes or got.lost:
                    break
                await event.wait()
    finally:
        log.waiting -= 1
    return _answer(got)


def _answer(got: Since) -> Response:
    doc: dict[str, Any] = {
        "epoch": got.epoch, "seq": got.seq, "position": f"{got.epoch}.{got.seq}",
        "lost": got.lost,
        "changes": [{"seq": c.seq, "key": c.key, "what": c.what, "etag": c.etag,
                     "size": c.size, "mtime_ns": c.mtime_ns} for c in got.changes],
    }
    return json_response(doc)
