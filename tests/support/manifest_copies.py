"""Current manifests as a test finds them on a mountpath: a file of their own, or a row of
the mountpath's shelf (aisfs/store/shelf.py: small ones). Read, replaced or removed where
they are, behind the store's back when a test damages them."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aisfs.store import layout
from aisfs.store.shelf import shelf_of


@dataclass(frozen=True)
class ManifestCopy:
    """One mountpath's copy of ``bucket/key``'s current manifest."""

    root: str
    bucket: str
    key: str
    in_shelf: bool

    @property
    def name(self) -> str:
        return layout.manifest_name(self.bucket, self.key)

    @property
    def path(self) -> Path:
        return Path(layout.manifest_path(self.root, self.bucket, self.key))

    def exists(self) -> bool:
        if self.in_shelf:
            return shelf_of(self.root).get(self.name) is not None
        return self.path.exists()

    def read_bytes(self) -> bytes:
        if self.in_shelf:
            data = shelf_of(self.root).get(self.name)
            if data is None:
                raise FileNotFoundError(f"{self.root}: no row {self.name}")
            return data
        return self.path.read_bytes()

    def write_bytes(self, data: bytes) -> None:
        """Replace it where it is (the row, or the file)."""
        if self.in_shelf:
            shelf_of(self.root).put(self.name, data)
        else:
            self.path.write_bytes(data)

    def unlink(self) -> None:
        if self.in_shelf:
            shelf_of(self.root).delete(self.name)
        else:
            self.path.unlink()

    def doc(self) -> dict[str, Any]:
        """Its JSON (without an inline object's bytes)."""
        head: dict[str, Any] = json.loads(self.read_bytes().partition(b"\n")[0])
        return head


def copies(roots: Iterable[str | Path], bucket: str, key: str) -> list[ManifestCopy]:
    """The copies of ``bucket/key``'s current manifest on these mountpaths."""
    found = []
    for root in roots:
        for in_shelf in (True, False):
            c = ManifestCopy(str(root), bucket, key, in_shelf)
            if c.exists():
                found.append(c)
    return found


def every_copy(root: str | Path) -> list[ManifestCopy]:
    """Every current manifest on the mountpath ``root``, in either home."""
    root = str(root)
    found = []
    for _name, data in shelf_of(root).walk():
        d = json.loads(data.partition(b"\n")[0])
        found.append(ManifestCopy(root, d["bucket"], d["key"], True))
    for fan in layout.FANOUT:
        with contextlib.suppress(FileNotFoundError):
            for n in os.listdir(f"{root}/{layout.MANIFESTS}/{fan}"):
                if n.endswith(".json") and layout.VERSION_SEP not in n:
                    path = f"{root}/{layout.MANIFESTS}/{fan}/{n}"
                    with contextlib.suppress(FileNotFoundError):
                        d = json.loads(Path(path).read_bytes().partition(b"\n")[0])
                        found.append(ManifestCopy(root, d["bucket"], d["key"], False))
    return found
