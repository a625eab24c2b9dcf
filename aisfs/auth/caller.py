"""The caller of one request, as every request context carries it, and the access rule.

A request is made by a ``User`` (a verified signature, or a JWT mapped to a user),
anonymously (no credentials: an S3 request is let in where an ACL or a policy allows
it), or to a node running open (``auth.mode = "open"``: everything allowed, nothing
checked - the embedded default, bound to 127.0.0.1).

The owner-or-admin rule (``may_use_bucket``): a user may act on a bucket they own; an
admin on every bucket and on the ``/v1`` cluster routes. It is what the native API's
writes and bucket routes apply; an S3 request is decided by :mod:`aisfs.auth.access`
(owner, bucket policy, ACLs, public access block, ownership controls), from the same
``Caller``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aisfs.auth.users import User

OWNER_PROP = "owner"  # the bucket prop holding the owner's canonical id


@dataclass(frozen=True, slots=True)
class Caller:
    user: User | None = None
    via: str = "anonymous"  # open | anonymous | sigv4 | sigv2 | presigned | jwt
    access_key: str = ""  # the access key id that signed, if one did

    @property
    def open(self) -> bool:
        return self.via == "open"

    @property
    def anonymous(self) -> bool:
        return self.user is None and not self.open

    @property
    def admin(self) -> bool:
        return self.open or (self.user is not None and self.user.admin)

    @property
    def id(self) -> str | None:
        return None if self.user is None else self.user.id

    def __str__(self) -> str:
        if self.open:
            return "open"
        return "anonymous" if self.user is None else self.user.name


OPEN = Caller(None, "open")
ANONYMOUS = Caller(None, "anonymous")


def bucket_owner(props: dict[str, object], legacy_owner_id: str) -> str:
    """The canonical id of a bucket's owner (``legacy_owner_id`` when none is recorded)."""
    owner = props.get(OWNER_PROP)
    return owner if isinstance(owner, str) and owner else legacy_owner_id


def may_use_bucket(caller: Caller, owner_id: str) -> bool:
    """Whether ``caller`` may act on a bucket owned by ``owner_id`` (open, admin, owner)."""
    if caller.admin:
        return True
    return caller.user is not None and caller.user.id == owner_id
