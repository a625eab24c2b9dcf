"""Bucket policies (issue 16): AWS's JSON policy language for a bucket, sans-IO.

- :mod:`~aisfs.auth.policy.document`: ``parse_policy`` - parsing, validation
  (``MalformedPolicy`` with AWS's messages), compilation;
- :mod:`~aisfs.auth.policy.patterns`: ``*``/``?`` wildcards and policy variables,
  compiled once;
- :mod:`~aisfs.auth.policy.principals`: ``Principal``/``NotPrincipal`` and
  ``principal_names`` (the names a caller is known by);
- :mod:`~aisfs.auth.policy.actions`: S3's action names, ``actions_for`` (operation ->
  the actions AWS checks);
- :mod:`~aisfs.auth.policy.conditions`: the ``Condition`` operators and qualifiers;
- :mod:`~aisfs.auth.policy.evaluate`: ``evaluate`` (explicit Deny wins), ``is_public``;
  ``applicable``, the statements that can apply to an (action, caller), kept with the
  policy (``Policy.memo``);
- :mod:`~aisfs.auth.policy.cache`: ``PolicyCache``, parsed policies per bucket.

Enforcement (the one place a request meets its bucket's policy) is
``aisfs_node/s3_access.py`` (``AccessControl.check``), through ``aisfs_node/s3_policy.py``.
"""

from aisfs.auth.policy.actions import COPY_SOURCE_ACTION, actions_for
from aisfs.auth.policy.cache import POLICY_PROP, PolicyCache
from aisfs.auth.policy.document import MAX_POLICY_BYTES, Policy, Statement, parse_policy
from aisfs.auth.policy.evaluate import (
    Decision,
    PolicyRequest,
    evaluate,
    is_public,
    resource_for,
)
from aisfs.auth.policy.principals import principal_names

__all__ = [
    "COPY_SOURCE_ACTION",
    "Decision",
    "MAX_POLICY_BYTES",
    "POLICY_PROP",
    "Policy",
    "PolicyCache",
    "PolicyRequest",
    "Statement",
    "actions_for",
    "evaluate",
    "is_public",
    "parse_policy",
    "principal_names",
    "resource_for",
]
