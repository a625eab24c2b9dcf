"""Object lock: bucket lock configuration, retention and legal hold (issue 15).

Wired into the router (``node.s3.api``) after the older parts, so an ``op_<Name>``
here answers that operation. An operation with no method anywhere answers 501.
"""

from __future__ import annotations

from node.s3.context import Services


class ObjectLockOps:
    def __init__(self, services: Services) -> None:
        self.services = services
