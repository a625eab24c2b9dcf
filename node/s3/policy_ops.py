"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus (issue 16).

Wired into the router (``node.s3.api``) after the older parts, so an ``op_<Name>``
here answers that operation. An operation with no method anywhere answers 501.
"""

from __future__ import annotations

from node.s3.context import Services


class PolicyOps:
    def __init__(self, services: Services) -> None:
        self.services = services
