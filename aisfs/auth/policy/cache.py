"""Parsed policies per bucket, so a request pays for a dictionary lookup, not a parse.

The bucket's props hold the policy as its text (``props["policy"]``); an entry is kept
while the text is the same, so a Put or Delete of the policy is seen on the next request
without any invalidation call.
"""

from __future__ import annotations

from collections.abc import Mapping

from aisfs.auth.policy.document import Policy, parse_policy
from aisfs.errors import S3Error

POLICY_PROP = "policy"  # the bucket prop holding the policy's JSON text


class PolicyCache:
    def __init__(self, limit: int = 4096) -> None:
        self._by_bucket: dict[str, tuple[str, Policy]] = {}
        self._limit = limit

    def get(self, bucket: str, props: Mapping[str, object]) -> Policy | None:
        """The bucket's policy, parsed; None when it has none. A stored text that no
        longer parses (valid when it was put, refused by a stricter parser since) is a
        policy denying everything: failing closed, the owner may still replace it."""
        text = props.get(POLICY_PROP)
        if not isinstance(text, str) or not text:
            return None
        return self.of_text(bucket, text)

    def of_text(self, bucket: str, text: str) -> Policy:
        """The policy ``text`` of ``bucket``, parsed once per text (the props' string is
        the same object from request to request: compared by identity first)."""
        cached = self._by_bucket.get(bucket)
        if cached is not None and (cached[0] is text or cached[0] == text):
            return cached[1]
        try:
            policy = parse_policy(text.encode("utf-8"), bucket)
        except S3Error:
            # Stored by PutBucketPolicy after it parsed, so only a change of this
            # parser's rules gets here: fail closed with a policy that allows nothing.
            policy = _DENY_ALL
        if len(self._by_bucket) >= self._limit:
            self._by_bucket.clear()
        self._by_bucket[bucket] = (text, policy)
        return policy

    def forget(self, bucket: str) -> None:
        self._by_bucket.pop(bucket, None)


_DENY_ALL = parse_policy(
    b'{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
    b'"Action":"*","Resource":"*"}]}',
    "any",
)
