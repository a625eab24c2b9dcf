"""The documents of a backend object's ACL (aisfs/backend/forwarded.py): the backend's answer
rendered (botocore's parsed Owner and Grants), a client's document read into botocore's
AccessControlPolicy - any canonical id kept (the backend judges it), the schema checked
as for the node's own objects."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3 import xml as s3xml

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=64)
permissions = st.sampled_from(["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL"])
grants = st.lists(st.one_of(
    st.builds(lambda i, p: {"Grantee": {"Type": "CanonicalUser", "ID": i}, "Permission": p},
              ids, permissions),
    st.builds(lambda p: {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": p},
              permissions),
), max_size=20)


@given(ids, grants)
def test_a_backend_answer_rendered_reads_back_as_it_was(owner: str, given_grants: list) -> None:
    answer = {"Owner": {"ID": owner, "DisplayName": "someone"}, "Grants": given_grants}
    back = s3xml.forwarded_policy(s3xml.backend_policy_document(answer))
    assert back == {"Owner": {"ID": owner}, "Grants": given_grants}


def test_a_grantee_by_email_or_of_no_kind_is_left_out() -> None:
    answer = {"Owner": {"ID": "o"}, "Grants": [
        {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@b"},
         "Permission": "READ"},
        {"Grantee": {"Type": "CanonicalUser", "ID": "o"}, "Permission": "NOPE"},
        {"Grantee": {"Type": "CanonicalUser", "ID": "o"}, "Permission": "READ"}]}
    back = s3xml.forwarded_policy(s3xml.backend_policy_document(answer))
    assert back["Grants"] == [{"Grantee": {"Type": "CanonicalUser", "ID": "o"},
                               "Permission": "READ"}]


@pytest.mark.parametrize("body", [
    b"", b"<AccessControlPolicy>", b"<Other/>",
    b"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>",  # no Owner/ID
    b"<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant>"
    b"<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
    b'<!DOCTYPE x [<!ENTITY e "e">]><AccessControlPolicy><Owner><ID>&e;</ID></Owner>'
    b"</AccessControlPolicy>",
])
def test_a_bad_document_is_malformed_acl(body: bytes) -> None:
    with pytest.raises(S3Error) as e:
        s3xml.forwarded_policy(body)
    assert e.value.code == "MalformedACLError" and e.value.status == 400
