"""Who is calling, and may they: users and their keys, JWT bearer tokens (AIStore AuthN).

- open: any request is let in; signatures are not checked (the embedded default, bound to
  127.0.0.1). Signed streaming bodies are still de-framed. The caller is ``OPEN``.
- sigv4: the Authorization header or a presigned query must verify against a user's
  access key (SigV4, or SigV2, which boto3 and the aws CLI still use to presign URLs for
  us-east-1); the caller is that user. An anonymous request is ``ANONYMOUS``. With an
  ``auth.jwt_secret`` an ``Authorization: Bearer`` token is accepted too.
- jwt: a HS256 token signed with ``auth.jwt_secret`` in ``Authorization: Bearer`` or, as
  AIStore accepts from AWS SDKs, in ``X-Amz-Security-Token``; its subject maps to a user
  (:mod:`aisfs.auth.tokens`, the one JWT check of both APIs). An S3 request with no
  token is ``ANONYMOUS``.

The users are those of ``[auth]`` (``[auth.users.NAME]``, ``[auth.access_keys]`` as the
admin ``aisfs``) and those added at run time (:mod:`aisfs.auth.userstore`, under
``<state_dir>/auth``), one :class:`aisfs.auth.Directory` swapped whole on each change and
on SIGHUP. Who may do what is decided in :mod:`aisfs_node.s3_access` (the bucket owner, its
policy, ACLs, public access block, ownership controls: docs/auth.md); an admin may do
anything; ListBuckets shows the caller's own. An anonymous S3 request is let in where an
ACL or a policy allows it (the native API still refuses it).

Every verified signature, V4 or V2, header or presigned, must also cover every
``x-amz-*`` header, Content-MD5 and Host the request carries
(:mod:`aisfs.s3.signed_headers`, applied inside ``sigv4``/``sigv2`` so the native API's
signed requests, which come through here too, get the same policy).

A node served under a base path (``net.s3_path``, ``/s3``) verifies what clients whose
endpoint ends in that base sign: SigV4 as received or with the base moved from the path
to the Host (s3cmd, :func:`aisfs.s3.sigv4.base_path_forms`); SigV2 against the S3
resource the request was routed to, ``/bkt/key`` (:func:`aisfs.s3.sigv2.candidate_resources`).
The base is the configured one, and only for a request the node routed under it.

Secrets are never logged: errors carry the access key id at most.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aisfs.auth import tokens
from aisfs.auth.caller import ANONYMOUS, OPEN, OWNER_PROP, Caller, bucket_owner, may_use_bucket
from aisfs.auth.users import Directory, User, UserError, users_from_config
from aisfs.auth.userstore import UserStore
from aisfs.config import NodeConfig
from aisfs.errors import S3Error
from aisfs.s3 import sigv2, sigv4
from aisfs.s3 import xml as s3xml
from aisfs.s3.request import S3Request
from aisfs_node.http import Request
from aisfs_node.s3_access import AccessControl, Plan

if TYPE_CHECKING:
    from aisfs.store.store import Store

log = logging.getLogger("aisfs.auth")

AUTH_DIR = "auth"


def access_denied(message: str = "Access Denied") -> S3Error:
    return S3Error("AccessDenied", message)


class Authenticator:
    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.cache = sigv4.SigningKeyCache()
        self.store: UserStore | None = None
        self.users = Directory(())
        self.access = AccessControl(self)
        self.reload(cfg)

    # ---- users --------------------------------------------------------------------

    def reload(self, cfg: NodeConfig) -> None:
        """The config's users and the stored ones again (start, SIGHUP)."""
        self.cfg = cfg
        self.cache = sigv4.SigningKeyCache()
        state = cfg.state_dir or cfg.store.index_dir
        self.store = UserStore(Path(state) / AUTH_DIR) if state else None
        self.refresh()

    def refresh(self) -> Directory:
        """Rebuild the directory (after a run-time change; blocking: a small file)."""
        try:
            configured = users_from_config(self.cfg.auth.access_keys, self.cfg.auth.users)
        except UserError as e:  # resolve() checked it: only a config built by hand
            log.warning("auth: %s", e)
            configured = []
        stored: list[User] = []
        if self.store is not None:
            try:
                stored = self.store.load()
            except Exception as e:  # a damaged file: the config's users still work
                log.warning("auth: the run-time users were not loaded: %s", e)
        users = Directory([*configured, *stored])
        for problem in users.problems:
            log.warning("auth: %s", problem)
        self.users = users
        return users

    # ---- who ----------------------------------------------------------------------

    def authenticate(
        self, http: Request, bucket_path: str | None = None
    ) -> sigv4.AuthResult | None:
        """Check the request's credentials; the result says what the body must satisfy."""
        return self.identify(http, bucket_path)[1]

    def identify(
        self, http: Request, bucket_path: str | None = None, anonymous: bool = False
    ) -> tuple[Caller, sigv4.AuthResult | None]:
        """The request's caller and its verified signature (None: no signature, or open).
        ``anonymous``: a request with no credentials is ``ANONYMOUS`` (S3, where ACLs and
        policies decide), else refused (the native API).

        Raises S3Error (AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch...).
        """
        mode = self.cfg.auth.mode
        if mode == "open":
            return OPEN, None
        get = http.headers.get
        if anonymous and mode == "jwt" and tokens.token_of(get) is None:
            return ANONYMOUS, None
        if mode == "jwt" or (self.cfg.auth.jwt_secret and tokens.has_bearer(get)):
            return self.token_caller(get), None
        users = self.users
        if sigv2.is_sigv2(http.headers.items(), http.query_string):
            akid = sigv2.verify(
                http.method,
                sigv2.candidate_resources(http.raw_path, bucket_path),
                http.query_string,
                http.headers.items(),
                users.secret,
                time.time(),
            )
            return self._caller_of_key(users, akid, "sigv2"), None
        result = sigv4.verify_request(
            http.method,
            http.raw_path,
            http.query_string,
            http.headers.items(),
            users.secret,
            time.time(),
            None,
            self.cache,
            base_path=self._base_of(http.raw_path, bucket_path),
        )
        if result is None:
            if anonymous:
                return ANONYMOUS, None
            raise access_denied("Access Denied: this node requires signed requests")
        via = "presigned" if result.presigned else "sigv4"
        return self._caller_of_key(users, result.access_key, via), result

    @staticmethod
    def _caller_of_key(users: Directory, akid: str, via: str) -> Caller:
        user = users.user_of_key(akid)
        if user is None:  # removed between the lookup and now
            raise S3Error(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                extra={"AWSAccessKeyId": akid},
            )
        return Caller(user, via, akid)

    def token_caller(self, get: tokens.HeaderGet, status: int = 403) -> Caller:
        """The caller of a bearer token (S3: 403 AccessDenied; /v1: 401)."""
        token = tokens.token_of(get)
        if token is None:
            raise S3Error("AccessDenied", "Access Denied: a bearer token is required "
                          "(Authorization: Bearer <token>; see aisfs auth token)",
                          status=status)
        try:
            user = tokens.user_of_claims(tokens.verify(token, self.cfg.auth.jwt_secret),
                                         self.users)
        except tokens.TokenError as e:
            raise S3Error("AccessDenied", f"Access Denied: {e}", status=status) from None
        return Caller(user, "jwt")

    def _base_of(self, raw_path: str, bucket_path: str | None) -> str:
        """The configured base an S3 request was routed under, or "" (root, native API).

        aisfs_node/app.py routes every path equal to or below ``net.s3_path`` under that base,
        with or without ``S3-API-via-Root``; nothing here is read from the request but
        which of the two it is.
        """
        if bucket_path is None:
            return ""
        base = self.cfg.net.s3_path.rstrip("/")
        path = raw_path.split("?", 1)[0]
        return base if base and (path == base or path.startswith(base + "/")) else ""

    # ---- may they -----------------------------------------------------------------

    def owner_of(self, props: dict[str, Any]) -> str:
        return bucket_owner(props, self.users.legacy_owner_id)

    def owner_xml(self, owner_id: str) -> s3xml.Owner:
        user = self.users.by_id(owner_id)
        return s3xml.Owner(owner_id, user.display_name if user is not None else owner_id)

    async def check_bucket(self, store: Store, caller: Caller, bucket: str) -> None:
        """AccessDenied unless ``caller`` may act on ``bucket`` (owner or admin). A
        bucket the store has no record of: answered by the handler (NoSuchBucket), but a
        non-admin is refused when the node has a backend (its buckets are admin-only)."""
        if caller.admin:
            return
        if caller.user is None:
            raise access_denied()
        try:
            info = await store.get_bucket(bucket)
        except S3Error as err:
            if err.code != "NoSuchBucket":
                raise
            from aisfs_node.backends import backend_configured

            if backend_configured(self.cfg.backend.s3):
                raise access_denied() from None
            return
        if not may_use_bucket(caller, self.owner_of(info.props)):
            raise access_denied()

    async def authorize_s3(self, store: Store, caller: Caller, s3: S3Request,
                           http: Request) -> Plan:
        """May ``caller`` do ``s3`` (the bucket owner, its policy, ACLs, public access
        block, ownership: aisfs_node/s3_access.py); AccessDenied if not. What to record once
        the operation succeeded (``access.apply``: the ACL a write request gave)."""
        return await self.access.authorize(store, caller, s3, http)

    def new_bucket_props(self, caller: Caller) -> dict[str, Any]:
        """What CreateBucket records about its caller: the owner (none when open)."""
        return {OWNER_PROP: caller.user.id} if caller.user is not None else {}

    async def check_recreate(self, store: Store, caller: Caller, bucket: str) -> None:
        """CreateBucket of an existing bucket: BucketAlreadyExists unless it is the
        caller's (S3; an admin included: it is not theirs)."""
        if caller.open:
            return
        info = await store.get_bucket(bucket)
        if caller.user is None or self.owner_of(info.props) != caller.user.id:
            raise S3Error(
                "BucketAlreadyExists",
                "The requested bucket name is not available. The bucket namespace is "
                "shared by all users of the system. Please select a different name and "
                "try again.", bucket, status=409)

    async def list_buckets_xml(self, store: Store, caller: Caller) -> bytes:
        """ListBuckets with auth on: the caller's buckets, the caller as Owner (AWS)."""
        from aisfs.backend.provider import Provider, bucket_of_local
        from aisfs.store.types import BucketInfo

        assert caller.user is not None
        everything = await store.list_buckets()
        names = {b.name for b in everything}
        shown: list[BucketInfo] = []
        for b in everything:
            if self.owner_of(b.props) != caller.user.id:
                continue
            ref = bucket_of_local(b.name)
            if ref.provider is Provider.AIS:
                shown.append(b)
            elif ref.name not in names:  # an s3:// bucket's cache, by the backend's name
                shown.append(BucketInfo(ref.name, b.created_ns, b.props))
        shown.sort(key=lambda b: b.name)
        owner = s3xml.Owner(caller.user.id, caller.user.display_name)
        return s3xml.list_buckets_result(shown, owner)

    async def listing_owner(self, store: Store, caller: Caller, bucket: str) -> s3xml.Owner:
        """The ``Owner`` of a listing's entries: the bucket owner's canonical id (open:
        the node's one identity, as before users)."""
        if caller.open:
            return s3xml.DEFAULT_OWNER
        try:
            info = await store.get_bucket(bucket)
        except S3Error:
            return s3xml.DEFAULT_OWNER
        return self.owner_xml(self.owner_of(info.props))
