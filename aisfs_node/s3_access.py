"""Who may do what on one S3 request, gathered and decided (``aisfs.auth.access``), and
the ACL a write request sets, applied once its operation has succeeded.

Before the handler (``authorize``): the bucket's props (cached by the store: no index
read), and only when they say there is something to read, the object's ACL
(``aisfs.store.acls``; only in a bucket where an object was given one) and the bucket
policy's verdict (``aisfs.auth.policy``, parsed once per policy text). A bucket owner's
request on a bucket with no policy and no object ACLs costs nothing more than before.
Anything refused is 403 AccessDenied; the ACL headers of a write are checked here too
(InvalidArgument, UnresolvableGrantByEmailAddress, AccessControlListNotSupported under
BucketOwnerEnforced, AccessDenied under BlockPublicAcls), before a byte is stored.

After the handler (``apply``): CreateBucket's ACL and ``x-amz-object-ownership`` go
into the bucket's props; PutObject's, CopyObject's and CompleteMultipartUpload's (given
at CreateMultipartUpload) ACL and owner to the object's row.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from aisfs.auth import access
from aisfs.auth import acl as acls
from aisfs.auth.caller import Caller
from aisfs.auth.users import Directory
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.s3.request import S3Request, parse_copy_source
from aisfs.store import acls as stored_acls
from aisfs.store.versions import no_such_version, valid_version_id
from aisfs_node.http import Request, Response
from aisfs_node.s3_policy import PolicyGate

if TYPE_CHECKING:
    from aisfs.s3.xml import Owner
    from aisfs.store.store import Store


class Identities(Protocol):
    """What the decision needs of the authenticator (aisfs_node/s3_auth.py, which holds it)."""

    cfg: NodeConfig
    users: Directory

    def owner_of(self, props: dict[str, Any]) -> str: ...

    def owner_xml(self, owner_id: str) -> Owner: ...

# the canonical id AWS gives anonymous writers (the owner of what they write)
ANONYMOUS_ID = "65a011a29cdf8ec533ec3d1ccaae921c"
BUCKETLESS = frozenset(("ListBuckets", "CreateBucket", "PreflightRequest"))
OBJECT_WRITES = frozenset(("PutObject", "CopyObject", "CreateMultipartUpload"))
PLANNED = OBJECT_WRITES | {"CompleteMultipartUpload", "DeleteBucket"}  # something to record
MAX_DELETE_BODY = 2 * 1024 * 1024  # a DeleteObjects document (aisfs_node.s3.context's limit)
DENIED_DELETES = "aisfs.denied_deletes"  # the request scope's: the keys refused
_T = TypeVar("_T")
_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def access_denied() -> S3Error:
    return S3Error("AccessDenied", "Access Denied")


def acl_not_supported() -> S3Error:
    return S3Error("AccessControlListNotSupported", "The bucket does not allow ACLs")


@dataclass(frozen=True, slots=True)
class Bucket:
    """What a decision needs of a bucket's props."""

    owner: str
    props: dict[str, Any]

    @property
    def ownership(self) -> str:
        value = self.props.get(access.OWNERSHIP_PROP)
        return value if isinstance(value, str) else access.DEFAULT_OWNERSHIP

    @property
    def enforced(self) -> bool:
        return self.ownership == access.ENFORCED

    @property
    def block(self) -> access.PublicAccessBlock:
        return access.PublicAccessBlock.from_json(self.props.get(access.PUBLIC_ACCESS_BLOCK_PROP))

    @property
    def acl(self) -> acls.AccessControlPolicy:
        return acls.from_json(self.props.get(access.ACL_PROP)) or acls.private(self.owner)


@dataclass(slots=True)
class Plan:
    """What to do once the operation succeeded (nothing: ``acl`` None and no ownership)."""

    operation: str
    bucket: str = ""
    key: str = ""
    acl: acls.AccessControlPolicy | None = None  # the new resource's ACL (None: default)
    bucket_owner: str = ""
    ownership: str | None = None  # CreateBucket's x-amz-object-ownership
    upload_id: str = ""  # CompleteMultipartUpload's, when it was created with an ACL


NOTHING = Plan("")


class AccessControl:
    def __init__(self, authenticator: Identities) -> None:
        self.auth = authenticator
        self.policies = PolicyGate()

    def name_of(self, uid: str) -> str | None:
        if uid == ANONYMOUS_ID:
            return "anonymous"
        user = self.auth.users.by_id(uid)
        return None if user is None else user.display_name

    def writer_id(self, caller: Caller, bucket_owner: str) -> str:
        """Who owns what ``caller`` writes: the user, AWS's anonymous id, or the bucket's
        owner for an admin (acting for the owner) or on an open node."""
        if caller.admin:
            return bucket_owner
        if caller.user is not None:
            return caller.user.id
        return bucket_owner if caller.open else ANONYMOUS_ID

    async def bucket(self, store: Store, name: str) -> Bucket:
        info = await store.get_bucket(name)
        return Bucket(self.auth.owner_of(info.props), info.props)

    # ---- before ------------------------------------------------------------------------

    async def authorize(self, store: Store, caller: Caller, s3: S3Request,
                        http: Request) -> Plan:
        """AccessDenied unless ``caller`` may do ``s3``; what to apply after it."""
        if s3.bucket is None or s3.operation in BUCKETLESS:
            return self._bucketless(caller, s3, http)
        if caller.open and s3.operation not in PLANNED:
            return NOTHING  # open: nothing to decide, nothing to record
        try:
            b = await self.bucket(store, s3.bucket)
        except S3Error as err:
            return self._no_bucket(err, caller)
        check_expected_owner(http.headers.get("x-amz-expected-bucket-owner"), b, caller)
        if not caller.open and s3.operation == "DeleteObjects" and not caller.admin:
            await self._check_each_delete(store, caller, s3, http, b)
        elif not caller.open:
            await self.check(store, caller, s3.operation, s3.bucket, s3.key, b, s3, http)
            if s3.operation in ("CopyObject", "UploadPartCopy"):
                await self._check_copy_source(store, caller, http)
        return await self._write_plan(store, caller, s3, http, b)

    def _no_bucket(self, err: S3Error, caller: Caller) -> Plan:
        """A bucket the store has no record of: the handler answers (NoSuchBucket, or a
        backend's bucket), but a non-admin is refused on a node with a backend (its
        buckets are admin-only)."""
        if err.code != "NoSuchBucket":
            raise err
        from aisfs_node.backends import backend_configured

        if not caller.admin and backend_configured(self.auth.cfg.backend.s3):
            raise access_denied() from None
        return NOTHING

    async def authorize_post(self, store: Store, caller: Caller, bucket: str, key: str,
                             fields: dict[str, str]) -> Plan:
        """A browser form's upload (POST Object): ``PostObject`` on the bucket (WRITE),
        its ``acl`` field the new object's canned ACL."""
        s3 = S3Request("PostObject", bucket, key)
        try:
            b = await self.bucket(store, bucket)
        except S3Error as err:
            return self._no_bucket(err, caller)
        if not caller.open:
            await self.check(store, caller, "PostObject", bucket, key, b, s3, None)
        headers = {"x-amz-acl": fields["acl"]} if "acl" in fields else {}
        acl = self.object_acl_of(headers, self.writer_id(caller, b.owner), b)
        return Plan("PutObject", bucket, key, acl, b.owner)

    async def authorize_read(self, store: Store, caller: Caller, bucket: str, key: str,
                             operation: str, http: Request) -> None:
        """The native API's object read (``GetObject``/``HeadObject``), decided as S3's."""
        try:
            b = await self.bucket(store, bucket)
        except S3Error as err:
            self._no_bucket(err, caller)
            return
        if not caller.open:
            await self.check(store, caller, operation, bucket, key, b, None, http)

    async def check(self, store: Store, caller: Caller, operation: str, bucket: str,
                    key: str | None, b: Bucket, s3: S3Request | None = None,
                    http: Request | None = None) -> None:
        if caller.admin:
            return
        uid = caller.id
        policy_text = b.props.get(access.POLICY_PROP)
        if not isinstance(policy_text, str):
            policy_text = ""
        object_acls = key is not None and bool(b.props.get(access.OBJECT_ACLS_PROP)) and \
            access.scope_of(operation) == "object" and not b.enforced
        if uid == b.owner and not object_acls:
            # the bucket owner's own (the common case): only the policy's explicit Deny
            # can refuse it, and only a policy's statements about it are tested
            if policy_text and access.denies_owner(self.policies.verdict(
                    policy_text, bucket, operation, key, caller,
                    context_of(caller, s3, http))[0], operation):
                raise access_denied()
            return
        object_acl = None
        if object_acls:
            assert key is not None
            object_acl = await self._requested_object_acl(store, bucket, key, s3, b)
        verdict, public = self.policies.verdict(
            policy_text, bucket, operation, key, caller, context_of(caller, s3, http))
        decision = access.decide(access.AccessRequest(
            operation, uid, b.owner, False, acls.from_json(b.props.get(access.ACL_PROP)),
            object_acl, verdict, public, b.block, b.ownership))
        if not decision:
            raise access_denied()

    async def _check_each_delete(self, store: Store, caller: Caller, s3: S3Request,
                                 http: Request, b: Bucket) -> None:
        """DeleteObjects, decided as AWS: a DeleteObject of each key it names. The keys
        refused are handed to the operation (``denied_deletes``), which answers each with
        its ``<Error>`` AccessDenied and deletes the others (200). With no policy the
        verdict is the bucket's, one for every key: the body is read only when it refuses
        (each key then refused); with a policy (which may allow or deny some keys only)
        the body is read, each key decided, and handed to the operation again."""
        from aisfs.s3 import xml as s3xml

        assert s3.bucket is not None
        policy = bool(b.props.get(access.POLICY_PROP))
        if not policy:
            try:
                await self.check(store, caller, "DeleteObjects", s3.bucket, None, b, s3, http)
                return
            except S3Error as err:
                if err.code != "AccessDenied":
                    raise
        body = await http.read_body(MAX_DELETE_BODY)
        replay_body(http, body)
        objects, _ = s3xml.parse_delete(body)
        refused: set[str] = set()
        for obj in objects:
            if obj.key in refused:
                continue
            if policy:
                try:
                    await self.check(store, caller, "DeleteObject", s3.bucket, obj.key, b,
                                     s3, http)
                    continue
                except S3Error as err:
                    if err.code != "AccessDenied":
                        raise
            refused.add(obj.key)
        http.scope[DENIED_DELETES] = frozenset(refused)

    async def _check_copy_source(self, store: Store, caller: Caller, http: Request) -> None:
        header = http.headers.get("x-amz-copy-source")
        if not header:
            return
        try:
            src_bucket, src_key, _ = parse_copy_source(header)
        except S3Error:
            return  # the handler answers it
        try:
            b = await self.bucket(store, src_bucket)
        except S3Error as err:
            if err.code == "NoSuchBucket":  # a backend's bucket (admin-only), or the handler's
                self._no_bucket(err, caller)
            return
        check_expected_owner(http.headers.get("x-amz-source-expected-bucket-owner"), b, caller)
        await self.check(store, caller, "GetObject", src_bucket, src_key, b, None, http)

    def _bucketless(self, caller: Caller, s3: S3Request, http: Request) -> Plan:
        if s3.operation == "PreflightRequest":
            return NOTHING
        if caller.anonymous:
            raise access_denied()
        if s3.operation != "CreateBucket" or s3.bucket is None:
            return NOTHING
        owner = caller.id or self.auth.owner_of({})
        ownership = http.headers.get("x-amz-object-ownership")
        if ownership is not None and ownership not in access.OWNERSHIPS:
            raise acls.invalid_argument("Invalid x-amz-object-ownership header",
                                        "x-amz-object-ownership", ownership)
        acl = acls.from_headers(http.headers, owner, self.name_of)  # type: ignore[arg-type]
        if ownership == access.ENFORCED and acl is not None and not \
                acls.only_owner_full_control(acl, owner):
            raise S3Error("InvalidBucketAclWithObjectOwnership",
                          "Bucket cannot have ACLs set with ObjectOwnership's "
                          "BucketOwnerEnforced setting")
        return Plan("CreateBucket", s3.bucket, "", acl, owner, ownership)

    async def _write_plan(self, store: Store, caller: Caller, s3: S3Request, http: Request,
                          b: Bucket) -> Plan:
        op = s3.operation
        if op == "CompleteMultipartUpload":
            # an upload created with an ACL marked its bucket: elsewhere nothing to read
            uid = s3.query.get("uploadId", "")
            doc = None
            if uid and b.props.get(access.OBJECT_ACLS_PROP):
                doc = await stored_acls.of(store.index).upload(uid)
            return Plan(op, s3.bucket or "", s3.key or "", acls.from_json(doc), b.owner,
                        upload_id=uid if doc is not None else "")
        if op == "DeleteBucket":
            return Plan(op, s3.bucket or "")
        if op == "DeleteObject":
            return self._marker_plan(caller, s3, b)
        if op not in OBJECT_WRITES:
            return NOTHING
        writer = self.writer_id(caller, b.owner)
        acl = self.object_acl_of(http.headers, writer, b)
        return Plan(op, s3.bucket or "", s3.key or "", acl, b.owner)

    def _marker_plan(self, caller: Caller, s3: S3Request, b: Bucket) -> Plan:
        """A DeleteObject (no versionId) by another than the bucket owner in a versioned
        bucket: the delete marker it makes is theirs (recorded after, ``version_owners``)."""
        from aisfs.store.versions import VERSIONING

        writer = self.writer_id(caller, b.owner)
        if writer == b.owner or b.enforced or "versionId" in s3.query or \
                b.props.get(VERSIONING) != "Enabled":
            return NOTHING
        return Plan("DeleteObject", s3.bucket or "", s3.key or "", acls.private(writer),
                    b.owner)

    def object_acl_of(self, headers: Any, writer: str,
                      b: Bucket) -> acls.AccessControlPolicy | None:
        """The ACL an object written by ``writer`` gets from ``headers`` (None: the
        default, the bucket owner's and private); refused as AWS refuses it."""
        given = acls.from_headers(headers, writer, self.name_of, b.owner)
        if given is not None:
            if b.enforced:
                if not acls.only_owner_full_control(given, b.owner):
                    raise acl_not_supported()
                return None
            if b.block.block_public_acls and given.public:
                raise access_denied()
        if b.enforced:
            return None
        if given is not None and b.ownership == "BucketOwnerPreferred" and \
                headers.get("x-amz-acl") == "bucket-owner-full-control":
            given = acls.private(b.owner)
        acl = given or acls.private(writer)
        if acl.owner == b.owner and acl.grants == acls.private(b.owner).grants:
            return None
        return acl

    # ---- listings ----------------------------------------------------------------------

    def owner_xml(self, uid: str) -> Owner:
        """The ``Owner`` element of ``uid`` (AWS's anonymous id: "anonymous")."""
        from aisfs.s3 import xml as s3xml

        if uid == ANONYMOUS_ID:
            return s3xml.Owner(uid, "anonymous")
        return self.auth.owner_xml(uid)

    async def entry_owners(self, store: Store, caller: Caller, bucket: str,
                           keys: list[str]) -> dict[str, Owner]:
        """The ``Owner`` of each current object among ``keys`` that is not the bucket
        owner's (another user or anonymous wrote it: its ACL row names its owner); the
        others, and every object under BucketOwnerEnforced, are the bucket owner's. Only
        a bucket marked as holding object ACLs is read: a listing elsewhere costs nothing."""
        if caller.open or not keys:
            return {}
        try:
            b = await self.bucket(store, bucket)
        except S3Error:
            return {}
        if b.enforced or not b.props.get(access.OBJECT_ACLS_PROP):
            return {}
        owners = await stored_acls.of(store.index).owners(bucket, keys)
        return {key: self.owner_xml(uid) for key, uid in owners.items() if uid != b.owner}

    async def version_owners(self, store: Store, caller: Caller, bucket: str,
                             versions: list[tuple[str, str, bool]]
                             ) -> dict[tuple[str, str], Owner]:
        """The ``Owner`` of each (key, version id, is the current object) of a version
        listing that is not the bucket owner's: the current object's from its ACL row
        (``entry_owners``), an older version's or a delete marker's as recorded when it
        was written (``version_owners``)."""
        current = await self.entry_owners(store, caller, bucket,
                                          [k for k, _, latest in versions if latest])
        out = {(k, v): current[k] for k, v, latest in versions if latest and k in current}
        older = [(k, v) for k, v, latest in versions if not latest]
        if caller.open or not older:
            return out
        b = await self.bucket(store, bucket)  # cached props: entry_owners read them
        if b.enforced or not b.props.get(access.OBJECT_ACLS_PROP):
            return out
        for kv, uid in (await stored_acls.of(store.index).version_owners(bucket, older)).items():
            if uid != b.owner:
                out[kv] = self.owner_xml(uid)
        return out

    # ---- after -------------------------------------------------------------------------

    async def apply(self, store: Store, plan: Plan, response: Response) -> None:
        """Record the ACL of what the operation made (it succeeded: ``response``)."""
        if not plan.operation or response.status >= 300:
            return
        if plan.operation == "CreateBucket":
            patch: dict[str, Any] = {}
            if plan.acl is not None and plan.acl.grants != acls.private(plan.bucket_owner).grants:
                patch[access.ACL_PROP] = acls.to_json(plan.acl)
            if plan.ownership:
                patch[access.OWNERSHIP_PROP] = plan.ownership
            if patch:
                await store.update_bucket_props(plan.bucket, patch)
            return
        rows = stored_acls.of(store.index)
        if plan.operation == "DeleteBucket":  # its objects are gone: so are their ACLs
            await rows.prune()
            return
        if plan.operation == "DeleteObject":  # the delete marker it made is the deleter's
            answer = dict(response.headers)
            vid = answer.get("x-amz-version-id")
            if plan.acl is not None and answer.get("x-amz-delete-marker") == "true" and vid:
                await rows.set_version_owner(plan.bucket, plan.key, vid, plan.acl.owner)
                await self.mark(store, plan.bucket)
            return
        if plan.operation == "CreateMultipartUpload":
            m = _UPLOAD_ID.search(response.body) if isinstance(response.body, bytes) else None
            if m is not None and plan.acl is not None:
                upload_id = html.unescape(m.group(1).decode("utf-8", "replace"))
                await rows.set_upload(upload_id, acls.to_json(plan.acl))
                await self.mark(store, plan.bucket)
            return
        await self.set_object_acl(store, plan.bucket, plan.key, plan.acl)
        if plan.upload_id:  # completed: its ACL is the object's now
            await rows.set_upload(plan.upload_id, None)

    @staticmethod
    async def mark(store: Store, bucket: str) -> None:
        """Mark ``bucket`` as holding object (or upload) ACLs: only there are they read."""
        info = await store.get_bucket(bucket)
        if not info.props.get(access.OBJECT_ACLS_PROP):
            await store.update_bucket_props(bucket, {access.OBJECT_ACLS_PROP: True})

    async def set_object_acl(self, store: Store, bucket: str, key: str,
                             acl: acls.AccessControlPolicy | None) -> None:
        """Give the current object at ``bucket/key`` its ACL (None: the default)."""
        rows = stored_acls.of(store.index)
        info = await store.get_bucket(bucket)
        has_rows = bool(info.props.get(access.OBJECT_ACLS_PROP))
        if acl is None and not has_rows:
            return  # no row can exist: nothing to drop
        try:
            obj = await store.head_object(bucket, key)
        except S3Error as err:  # gone already (a concurrent DELETE): nothing to give
            if err.code in ("NoSuchKey", "NoSuchBucket"):
                return
            raise
        await rows.set(bucket, key, obj.generation, None if acl is None else acls.to_json(acl),
                       obj.version_id or "null")  # the version keeps it once not current
        if acl is not None and not has_rows:
            await self.mark(store, bucket)
        if acl is not None and obj.version_id and obj.version_id != "null" and \
                acl.owner != self.auth.owner_of(info.props):
            # a version another wrote keeps its owner once no longer current
            await rows.set_version_owner(bucket, key, obj.version_id, acl.owner)

    async def object_acl(self, store: Store, bucket: str, key: str,
                         b: Bucket) -> acls.AccessControlPolicy:
        """The ACL of the current object (its default when it has none of its own)."""
        doc = None
        if not b.enforced and b.props.get(access.OBJECT_ACLS_PROP):
            doc = await stored_acls.of(store.index).get(bucket, key)
        return acls.from_json(doc) or acls.private(b.owner)

    async def version_acl(self, store: Store, bucket: str, key: str, version_id: str,
                          b: Bucket) -> acls.AccessControlPolicy:
        """The ACL of one version (the current's when it is the current; its default,
        private to its owner, when it has none of its own); NoSuchVersion, and 405
        MethodNotAllowed for a delete marker (it has no ACL), as AWS."""
        info = await store.head_version(bucket, key, version_id)
        if info.delete_marker:
            raise delete_marker_refused("GET")
        if b.enforced:
            return acls.private(b.owner)
        found = await self._stored_version_acl(store, bucket, key, version_id,
                                               info.generation, b)
        return found or acls.private(b.owner)

    async def _stored_version_acl(self, store: Store, bucket: str, key: str,
                                  version_id: str, generation: int,
                                  b: Bucket) -> acls.AccessControlPolicy | None:
        """A version's own ACL, else (a version another wrote, before versions kept
        their ACLs) private to its recorded owner; None: the bucket owner's default."""
        if not b.props.get(access.OBJECT_ACLS_PROP):
            return None
        rows = stored_acls.of(store.index)
        found = acls.from_json(await rows.version(bucket, key, version_id, generation))
        if found is None:
            owner = (await rows.version_owners(bucket, [(key, version_id)])).get(
                (key, version_id))
            found = acls.private(owner) if owner else None
        return found

    async def set_version_acl(self, store: Store, bucket: str, key: str, version_id: str,
                              acl: acls.AccessControlPolicy | None) -> None:
        """Give one version its ACL (None: the default); the current's as
        ``set_object_acl``. NoSuchVersion; 405 for a delete marker."""
        info = await store.head_version(bucket, key, version_id)
        if info.delete_marker:
            raise delete_marker_refused("PUT")
        if (info.version_id or "null") != version_id:
            raise no_such_version(key, version_id)  # gone meanwhile
        try:
            current = await store.head_object(bucket, key)
        except S3Error as err:
            if err.code != "NoSuchKey":
                raise
            current = None
        if current is not None and (current.version_id or "null") == version_id:
            await self.set_object_acl(store, bucket, key, acl)
            return
        doc = None if acl is None else acls.to_json(acl)
        await stored_acls.of(store.index).set_version(bucket, key, version_id,
                                                      info.generation, doc)
        if acl is not None:
            await self.mark(store, bucket)

    async def _requested_object_acl(self, store: Store, bucket: str, key: str,
                                    s3: S3Request | None,
                                    b: Bucket) -> acls.AccessControlPolicy | None:
        """The stored ACL an object request is decided on: the version's it names
        (``versionId``), else the current object's; None: the default."""
        vid = None if s3 is None else s3.query.get("versionId")
        if vid is None or not valid_version_id(vid):
            return acls.from_json(await stored_acls.of(store.index).get(bucket, key))
        try:
            info = await store.head_version(bucket, key, vid)
        except S3Error:
            return None  # no such version: the handler answers, if the caller may ask
        return await self._stored_version_acl(store, bucket, key, vid, info.generation, b)


def delete_marker_refused(method: str) -> S3Error:
    """A delete marker named by a versionId has no ACL: 405, as AWS answers."""
    return S3Error("MethodNotAllowed",
                   "The specified method is not allowed against this resource.",
                   status=405, extra={"Method": method, "ResourceType": "DeleteMarker"})


def check_expected_owner(expected: str | None, b: Bucket, caller: Caller) -> None:
    """``x-amz-expected-bucket-owner`` (``x-amz-source-expected-bucket-owner``): a
    bucket another user owns is 403 AccessDenied, as AWS (not checked on an open node)."""
    if expected is not None and not caller.open and expected.strip() != b.owner:
        raise access_denied()


def denied_deletes(http: Request) -> frozenset[str]:
    """The keys of a DeleteObjects the access check refused (each answered AccessDenied
    in its result, the others deleted)."""
    keys = http.scope.get(DENIED_DELETES)
    return keys if isinstance(keys, frozenset) else frozenset()


def replay_body(http: Request, body: bytes) -> None:
    """Give ``http`` its body again (read whole by the access check) for the operation."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    http._receive = receive
    http.body_consumed = False
    http.bytes_received -= len(body)  # counted again as the operation reads it


def context_of(caller: Caller, s3: S3Request | None,
               http: Request | None) -> RequestContext:
    """The condition keys of a policy statement, from the request (``aws:*``, ``s3:*``,
    lower-cased), each worked out when a statement asks for it."""
    return RequestContext(caller, s3, http)


_S3_HEADERS = ("x-amz-acl", "x-amz-copy-source", "x-amz-server-side-encryption",
               "x-amz-metadata-directive", "x-amz-storage-class", "x-amz-content-sha256",
               *acls.GRANT_HEADERS)
_S3_QUERY = ("prefix", "delimiter", "max-keys", "versionid")
_KEYS = ("aws:currenttime", "aws:epochtime", "aws:principaltype", "aws:username",
         "aws:userid", "aws:securetransport", "aws:sourceip", "aws:referer", "aws:useragent",
         *(f"s3:{h}" for h in _S3_HEADERS), *(f"s3:{q}" for q in _S3_QUERY))
_now: tuple[int, list[str], list[str]] = (0, [""], [""])  # second, its ISO 8601, its epoch


def _clock() -> tuple[int, list[str], list[str]]:
    """aws:CurrentTime and aws:EpochTime, formatted once a second."""
    global _now
    second = int(time.time())
    if _now[0] != second:
        _now = (second, [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))],
                [str(second)])
    return _now


class RequestContext(Mapping[str, list[str]]):
    """A request's policy condition keys (lower-cased names): each worked out the first
    time a statement asks for it, so a policy pays only for the keys it names (and of
    those, only the ones of the statements that concern the caller and the action)."""

    __slots__ = ("caller", "s3", "http", "_known")

    def __init__(self, caller: Caller, s3: S3Request | None, http: Request | None) -> None:
        self.caller = caller
        self.s3 = s3
        self.http = http
        self._known: dict[str, list[str] | None] = {}

    @overload
    def get(self, key: str, /) -> list[str] | None: ...

    @overload
    def get(self, key: str, default: list[str] | _T, /) -> list[str] | _T: ...

    def get(self, key: str, default: object = None) -> object:
        known = self._known
        if key in known:
            value = known[key]
        else:
            value = known[key] = self._work_out(key)
        return default if value is None else value

    def __getitem__(self, key: str) -> list[str]:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter([k for k in _KEYS if self.get(k) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _work_out(self, key: str) -> list[str] | None:
        if key.startswith("aws:"):
            return self._aws(key[4:])
        if not key.startswith("s3:"):
            return None
        name = key[3:]
        if name in _S3_QUERY:
            if self.s3 is not None:
                for param, value in self.s3.query.items():
                    if param.lower() == name:
                        return [value]
            return None
        if self.http is not None and name in _S3_HEADERS:
            header = self.http.headers.get(name)
            return None if header is None else [header]
        return None

    def _aws(self, name: str) -> list[str] | None:
        user, http = self.caller.user, self.http
        if name == "currenttime":
            return _clock()[1]
        if name == "epochtime":
            return _clock()[2]
        if name == "principaltype":
            return ["Anonymous" if user is None else "User"]
        if name in ("username", "userid"):
            return None if user is None else [user.name if name == "username" else user.id]
        if http is None:
            return None
        if name == "securetransport":
            return ["true" if http.scheme == "https" else "false"]
        if name == "sourceip":
            return [str(http.client[0])] if http.client else None
        if name in ("referer", "useragent"):
            value = http.headers.get("referer" if name == "referer" else "user-agent")
            return [value] if value else None
        return None
