"""Ids and secrets a user passes on a command line never start with ``-``.

The aws CLI read ``--upload-id -rQFv...`` as an option and refused it: one upload id in
64 (a url-safe token's first character is ``-`` that often) broke the seed's multipart
example. Drawn often enough here that the old generator fails.
"""

from __future__ import annotations

from aisfs.auth.users import new_access_key
from aisfs.store.multipart import new_upload_id


def test_upload_ids_never_start_with_a_dash() -> None:
    ids = [new_upload_id() for _ in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 32 for i in ids)
    assert len(set(ids)) == len(ids)


def test_secret_keys_never_start_with_a_dash() -> None:
    secrets_ = [new_access_key()[1] for _ in range(5000)]
    assert not [s for s in secrets_ if s.startswith("-")]
