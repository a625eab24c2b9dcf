"""A bucket policy's verdict on one request, for the access decision (``aisfs_node.s3_access``).

The policy is parsed and compiled once per text (``aisfs.auth.policy.PolicyCache``); the
statements that can apply to an action and a caller are found once per pair and kept
with it (``aisfs.auth.policy.evaluate.applicable``); a caller's principal names are one
frozenset per user, kept here. A request's verdict is over every action its operation
needs (``actions_for``): a Deny of any one is Deny, an Allow of every one is Allow,
anything else NoMatch. The request's condition keys come from ``context``, a mapping
that works a key out only when a statement asks for it (``s3_access.RequestContext``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aisfs.auth.access import PolicyVerdict
from aisfs.auth.caller import Caller
from aisfs.auth.policy import (
    PolicyCache,
    actions_for,
    is_public,
    principal_names,
    resource_for,
)
from aisfs.auth.policy.actions import kind
from aisfs.auth.policy.evaluate import decide

ANONYMOUS: frozenset[str] = frozenset()
NAMES_LIMIT = 4096  # users whose principal names are kept


class PolicyGate:
    def __init__(self) -> None:
        self.cache = PolicyCache()
        self._names: dict[str, tuple[str, frozenset[str]]] = {}  # user id -> (name, names)

    def principals(self, caller: Caller) -> frozenset[str]:
        """The names ``caller`` is known by in a policy, one frozenset per user (the key
        of the policy's per-caller memo, found by identity)."""
        user = caller.user
        if user is None:
            return ANONYMOUS
        kept = self._names.get(user.id)
        if kept is not None and kept[0] == user.name:
            return kept[1]
        names = principal_names(user.id, user.name)
        if len(self._names) >= NAMES_LIMIT:
            self._names.clear()
        self._names[user.id] = (user.name, names)
        return names

    def verdict(
        self, text: str, bucket: str, operation: str, key: str | None, caller: Caller,
        context: Mapping[str, Sequence[str]],
    ) -> tuple[PolicyVerdict | None, bool]:
        """(the policy's verdict, whether the policy ``text`` is public). ``context``:
        the request's condition keys, lower-cased."""
        if not text:
            return None, False
        policy = self.cache.of_text(bucket, text)
        actions = actions_for(operation, context.get("s3:versionid") is not None)
        if not actions:
            return "NoMatch", policy.public
        principals = self.principals(caller)
        verdict: PolicyVerdict = "Allow"
        for action in actions:
            one = decide(policy, action, _resource(action, bucket, key), principals, context)
            if one == "Deny":
                return "Deny", is_public(policy)
            if one == "NoMatch":
                verdict = "NoMatch"
        return verdict, is_public(policy)


def _resource(action: str, bucket: str, key: str | None) -> str:
    """The ARN ``action`` is checked on: the object's for an object action (``*`` for
    one whose keys come in its body, DeleteObjects), else the bucket's."""
    if kind(action) != "object":
        return resource_for(bucket, None)
    return resource_for(bucket, "*" if key is None else key)
