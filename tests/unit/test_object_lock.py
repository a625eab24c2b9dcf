"""Object lock, sans-IO (aisfs.s3.object_lock): the write headers, the lock a new version
gets, the removal and retention-change decisions (AWS's rules, as properties), and the
JSON the store keeps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aisfs.errors import S3Error
from aisfs.s3 import object_lock as ol
from aisfs.s3.object_lock import COMPLIANCE, GOVERNANCE, BucketLockConfig, VersionLock

NS = ol.NS
NOW = 1_800_000_000 * NS  # 2027-01-15
LATER = "2030-02-01T00:00:00Z"
LATER_NS = ol.parse_date(LATER)


def code_of(fn: object, *args: object) -> tuple[str, int]:
    with pytest.raises(S3Error) as e:
        fn(*args)  # type: ignore[operator]
    return e.value.code, e.value.status


# --------------------------------------------------------------------------- dates


def test_dates_in_the_forms_clients_send() -> None:
    assert ol.parse_date("2030-02-01T00:00:00Z") == ol.parse_date("2030-02-01T00:00:00.000Z")
    assert ol.parse_date("2030-02-01T01:00:00+01:00") == LATER_NS
    assert ol.parse_date("2030-02-01T00:00:00") == LATER_NS  # no zone: UTC
    for bad in ("", "tomorrow", "2030-13-01T00:00:00Z", "x" * 100, "１２３４-01-01"):
        assert ol.parse_date(bad) is None
    assert ol.format_date(LATER_NS or 0) == "2030-02-01T00:00:00.000Z"


@given(st.integers(0, 253_402_300_799_999) )
def test_format_then_parse_keeps_the_millisecond(ms: int) -> None:
    assert ol.parse_date(ol.format_date(ms * 1_000_000)) == ms * 1_000_000


# --------------------------------------------------------------------------- headers


def test_no_lock_headers_asks_nothing() -> None:
    assert ol.lock_from_headers({"content-type": "x"}, NOW) is None


def test_mode_and_date_give_a_retention() -> None:
    lock = ol.lock_from_headers({ol.LOCK_MODE: "COMPLIANCE", ol.LOCK_UNTIL: LATER}, NOW)
    assert lock == VersionLock(COMPLIANCE, LATER_NS, None)
    lock = ol.lock_from_headers({ol.LOCK_HOLD: "ON"}, NOW)
    assert lock == VersionLock(None, None, True)


@pytest.mark.parametrize("headers", [
    {ol.LOCK_MODE: "GOVERNANCE"},
    {ol.LOCK_UNTIL: LATER},
    {ol.LOCK_MODE: "governance", ol.LOCK_UNTIL: LATER},
    {ol.LOCK_MODE: "GOVERNANCE", ol.LOCK_UNTIL: "next week"},
    {ol.LOCK_MODE: "GOVERNANCE", ol.LOCK_UNTIL: "2001-01-01T00:00:00Z"},  # the past
    {ol.LOCK_HOLD: "on"},
])
def test_bad_lock_headers_are_invalid_argument(headers: dict[str, str]) -> None:
    assert code_of(ol.lock_from_headers, headers, NOW) == ("InvalidArgument", 400)


def test_lock_headers_on_a_bucket_without_lock_are_invalid_request() -> None:
    asked = VersionLock(GOVERNANCE, NOW + NS, None)
    assert code_of(ol.new_version_lock, asked, BucketLockConfig(), NOW) == (
        "InvalidRequest", 400)
    assert ol.new_version_lock(None, BucketLockConfig(), NOW) is None


def test_default_retention_applies_when_the_headers_name_no_mode() -> None:
    cfg = BucketLockConfig(True, ol.DefaultRetention(GOVERNANCE, days=2))
    assert ol.new_version_lock(None, cfg, NOW) == VersionLock(GOVERNANCE, NOW + 2 * ol.DAY_NS)
    held = ol.new_version_lock(VersionLock(None, None, True), cfg, NOW)
    assert held == VersionLock(GOVERNANCE, NOW + 2 * ol.DAY_NS, True)
    own = VersionLock(COMPLIANCE, NOW + NS, None)
    assert ol.new_version_lock(own, cfg, NOW) == own
    years = BucketLockConfig(True, ol.DefaultRetention(COMPLIANCE, years=1))
    assert ol.new_version_lock(None, years, NOW) == VersionLock(COMPLIANCE, NOW + 365 * ol.DAY_NS)
    assert ol.new_version_lock(None, BucketLockConfig(True), NOW) is None


def test_integrity_header_needed_with_lock_parameters() -> None:
    cfg = BucketLockConfig(True, ol.DefaultRetention(GOVERNANCE, days=1))
    ol.check_integrity({}, None, cfg)  # AWS asks it here too; aisfs not (the mount)
    assert ol.default_lock_json({}, NOW) is None
    assert VersionLock.from_json(ol.default_lock_json(cfg.to_props(), NOW)) == VersionLock(
        GOVERNANCE, NOW + ol.DAY_NS)
    asked = VersionLock(None, None, True)
    assert code_of(ol.check_integrity, {}, asked, BucketLockConfig(True)) == (
        "InvalidRequest", 400)
    ol.check_integrity({}, None, BucketLockConfig(True))  # nothing asked, no default
    for h in ({"Content-MD5": "x"}, {"x-amz-checksum-crc32": "AAAAAA=="},
              {"x-amz-sdk-checksum-algorithm": "CRC32"},
              {"x-amz-trailer": "x-amz-checksum-crc64nvme"}):
        ol.check_integrity(h, asked, cfg)
    assert code_of(ol.check_integrity, {"x-amz-checksum-type": "FULL_OBJECT"}, asked, cfg)[0] \
        == "InvalidRequest"


def test_bypass_and_bucket_lock_headers() -> None:
    assert ol.bypass_asked({ol.BYPASS: "True"})
    assert not ol.bypass_asked({ol.BYPASS: "yes"}) and not ol.bypass_asked({})
    assert ol.bucket_lock_asked({ol.BUCKET_LOCK: "true"})
    assert not ol.bucket_lock_asked({ol.BUCKET_LOCK: "FALSE"}) and not ol.bucket_lock_asked({})
    assert code_of(ol.bucket_lock_asked, {ol.BUCKET_LOCK: "maybe"}) == ("InvalidArgument", 400)


# --------------------------------------------------------------------------- decisions

modes = st.sampled_from([None, GOVERNANCE, COMPLIANCE])
holds = st.sampled_from([None, False, True])
offsets = st.integers(-10 * ol.DAY_NS, 10 * ol.DAY_NS)


@st.composite
def locks(draw: st.DrawFn) -> VersionLock | None:
    if draw(st.booleans()):
        return None
    mode = draw(modes)
    return VersionLock(mode, NOW + draw(offsets) if mode else None, draw(holds))


def allowed(fn: object, *args: object) -> bool:
    try:
        fn(*args)  # type: ignore[operator]
    except S3Error as e:
        assert (e.code, e.status) == ("AccessDenied", 403)
        return False
    return True


@given(locks(), st.booleans(), st.booleans())
def test_removal_is_refused_exactly_when_the_lock_protects(
        lock: VersionLock | None, bypass: bool, may: bool) -> None:
    ok = allowed(ol.may_remove, lock, NOW, bypass, may)
    if lock is None or not lock.protects(NOW):
        assert ok
    elif lock.held or lock.mode == COMPLIANCE:
        assert not ok  # legal hold and COMPLIANCE: whatever the request says
    else:
        assert ok == (bypass and may)  # GOVERNANCE: the bypass, by one allowed to


@given(locks(), modes, offsets, st.booleans(), st.booleans())
def test_a_retention_in_force_is_never_weakened_without_the_governance_bypass(
        old: VersionLock | None, mode: str | None, offset: int, bypass: bool,
        may: bool) -> None:
    until = NOW + offset if mode else None
    ok = allowed(ol.may_change_retention, old, mode, until, NOW, bypass, may)
    if old is None or not old.retained(NOW):
        assert ok
        return
    assert old.until_ns is not None
    stronger = (mode is not None and until is not None and until >= old.until_ns
                and mode in (old.mode, COMPLIANCE))
    if stronger:
        assert ok  # lengthening is always allowed
    elif old.mode == COMPLIANCE:
        assert not ok
    else:
        assert ok == (bypass and may)


def test_retention_set_in_the_past_is_invalid() -> None:
    assert code_of(ol.check_new_retention, GOVERNANCE, NOW, NOW) == ("InvalidArgument", 400)
    ol.check_new_retention(GOVERNANCE, NOW + 1, NOW)
    ol.check_new_retention(None, None, NOW)


# --------------------------------------------------------------------------- kept forms


@given(locks())
def test_the_store_json_round_trips(lock: VersionLock | None) -> None:
    raw = lock.to_json() if lock is not None else None
    back = VersionLock.from_json(raw)
    if lock is None or lock.empty:
        assert back is None
    else:
        assert back == lock


@pytest.mark.parametrize("raw", ["{", "[]", '{"mode":"FOREVER"}', '{"mode":"GOVERNANCE"}',
                                 '{"legal_hold":"yes"}'])
def test_an_unreadable_lock_record_protects_the_version(raw: str) -> None:
    lock = VersionLock.from_json(raw)
    assert lock is not None and lock.held


@pytest.mark.parametrize("cfg", [
    BucketLockConfig(),
    BucketLockConfig(True),
    BucketLockConfig(True, ol.DefaultRetention(GOVERNANCE, days=3)),
    BucketLockConfig(True, ol.DefaultRetention(COMPLIANCE, years=2)),
])
def test_the_bucket_props_round_trip(cfg: BucketLockConfig) -> None:
    props = {k: v for k, v in cfg.to_props().items() if v is not None}
    assert BucketLockConfig.from_props(props) == cfg


def test_response_headers_of_a_lock() -> None:
    assert ol.lock_headers(None) == []
    assert ol.lock_headers(VersionLock(GOVERNANCE, LATER_NS, True)) == [
        (ol.LOCK_MODE, GOVERNANCE), (ol.LOCK_UNTIL, "2030-02-01T00:00:00.000Z"),
        (ol.LOCK_HOLD, "ON")]
    assert ol.lock_headers(VersionLock(None, None, False)) == [(ol.LOCK_HOLD, "OFF")]
