"""Who is calling: users, their keys and JWT subjects, the request's caller, the rule.

Sans-IO but for :mod:`aisfs.auth.userstore` (one JSON file and a key file, read and
written by the caller's worker thread):

- :mod:`aisfs.auth.users`: ``User`` (canonical id, display name, access keys, JWT
  subjects, admin) and ``Directory``, the lookups a request needs (access key -> user and
  secret, JWT subject -> user), built from ``[auth]`` and the run-time store;
- :mod:`aisfs.auth.caller`: ``Caller``, what a request context carries (a user,
  anonymous, or the open node), and the owner-or-admin rule (the native API's writes);
- :mod:`aisfs.auth.acl`: ACLs - grants, canned ACLs, ``x-amz-grant-*`` headers,
  ``permits``, their stored form;
- :mod:`aisfs.auth.access`: the one access decision of an S3 request (owner, bucket
  policy, ACLs, public access block, ownership controls), as AWS evaluates them;
- :mod:`aisfs.auth.policy`: bucket policies (the language, its evaluation);
- :mod:`aisfs.auth.tokens`: the one JWT check both APIs use;
- :mod:`aisfs.auth.sealed`: secrets sealed at rest with the node key (Fernet);
- :mod:`aisfs.auth.userstore`: the run-time users, durable (``<state_dir>/auth/``).
"""

from aisfs.auth.caller import ANONYMOUS, OPEN, Caller, may_use_bucket
from aisfs.auth.users import LEGACY_USER, Directory, User, UserError, canonical_id

__all__ = [
    "ANONYMOUS",
    "OPEN",
    "Caller",
    "Directory",
    "LEGACY_USER",
    "User",
    "UserError",
    "canonical_id",
    "may_use_bucket",
]
