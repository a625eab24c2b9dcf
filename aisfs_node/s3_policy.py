"""A bucket policy's verdict on one request, for the access decision (``aisfs_node.s3_access``).

The policy is parsed once per text (``aisfs.auth.policy.PolicyCache``); a request's
verdict is over every action its operation needs (``actions_for``): a Deny of any one
is Deny, an Allow of every one is Allow, anything else NoMatch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aisfs.auth.access import PolicyVerdict
from aisfs.auth.caller import Caller
from aisfs.auth.policy import (
    PolicyCache,
    PolicyRequest,
    actions_for,
    evaluate,
    is_public,
    principal_names,
    resource_for,
)
from aisfs.auth.policy.actions import kind


class PolicyGate:
    def __init__(self) -> None:
        self.cache = PolicyCache()

    def verdict(
        self, text: str, bucket: str, operation: str, key: str | None, caller: Caller,
        context: Mapping[str, Sequence[str]],
    ) -> tuple[PolicyVerdict | None, bool]:
        """(the policy's verdict, whether the policy is public); (None, False): no policy."""
        policy = self.cache.get(bucket, {"policy": text})
        if policy is None:
            return None, False
        version = any(k == "s3:versionid" for k in context)
        actions = actions_for(operation, version)
        if not actions:
            return "NoMatch", is_public(policy)
        principals = (frozenset() if caller.user is None
                      else principal_names(caller.user.id, caller.user.name))
        lowered = {k.lower(): v for k, v in context.items()}
        verdicts = [
            evaluate(policy, PolicyRequest(a, _resource(a, bucket, key), principals, lowered))
            for a in actions]
        if "Deny" in verdicts:
            return "Deny", is_public(policy)
        if all(v == "Allow" for v in verdicts):
            return "Allow", is_public(policy)
        return "NoMatch", is_public(policy)



def _resource(action: str, bucket: str, key: str | None) -> str:
    """The ARN ``action`` is checked on: the object's for an object action (``*`` for
    one whose keys come in its body, DeleteObjects), else the bucket's."""
    if kind(action) != "object":
        return resource_for(bucket, None)
    return resource_for(bucket, "*" if key is None else key)
