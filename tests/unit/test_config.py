"""Config parsing (aisfs/config.py, msgspec Structs): every wrong type or unknown key is one
line naming the key, in the words the CLI has always printed; the rules across fields are
resolve()'s. The messages here are the ones the hand-written checker gave (pinned when the
parsing moved to msgspec)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from aisfs.backend.settings import S3Settings, settings_for
from aisfs.config import (
    BackendS3Config,
    ConfigError,
    NodeConfig,
    StoreSettings,
    config_from_mapping,
    load_config,
)
from aisfs.store.config import StoreConfig

TYPES: list[tuple[dict[str, Any], str]] = [
    ({"bogus": 1}, "bogus: unknown setting"),
    ({"net": 5}, "net: expected a table"),
    ({"net": {"bogus": 1}}, "net.bogus: unknown setting"),
    ({"net": {"listen": "127.0.0.1:80"}}, "net.listen: expected a list of strings"),
    ({"net": {"listen": [1]}}, "net.listen: expected a list of strings"),
    ({"net": {"keep_alive_timeout": "x"}}, "net.keep_alive_timeout: expected float, got str 'x'"),
    ({"net": {"keep_alive_timeout": True}}, "net.keep_alive_timeout: expected a number, got True"),
    ({"net": {"read_timeout": "x"}}, "net.read_timeout: expected float, got str 'x'"),
    ({"net": {"read_timeout": False}}, "net.read_timeout: expected a number, got False"),
    ({"net": {"s3_path": 5}}, "net.s3_path: expected str, got int 5"),
    ({"net": {"s3_path": datetime.date(2020, 1, 2)}},
     "net.s3_path: expected str, got date datetime.date(2020, 1, 2)"),
    ({"store": {"chunk_size": 1.5}}, "store.chunk_size: expected int, got float 1.5"),
    ({"store": {"chunk_size": True}}, "store.chunk_size: expected a number, got True"),
    ({"store": {"chunk_size": "big"}}, "store.chunk_size: expected int, got str 'big'"),
    ({"store": {"fsync": 1}}, "store.fsync: expected bool, got int 1"),
    ({"store": {"mountpaths": ["a", 2]}}, "store.mountpaths: expected a list of strings"),
    ({"auth": {"access_keys": "x"}}, "auth.access_keys: expected a table"),
    ({"auth": {"users": []}}, "auth.users: expected a table"),
    ({"auth": {"bogus": {}}}, "auth.bogus: unknown setting"),
    ({"auth": {"mode": 1}}, "auth.mode: expected str, got int 1"),
    ({"log": {"json": "yes"}}, "log.json: expected bool, got str 'yes'"),
    ({"log": {"level": ["x"]}}, "log.level: expected str, got list ['x']"),
    ({"backend": {"bogus": 1}}, "backend.bogus: unknown setting"),
    ({"backend": {"s3": {"bogus": 1}}}, "backend.s3.bogus: unknown setting"),
    ({"backend": {"s3": 3}}, "backend.s3: expected a table"),
    ({"backend": {"s3": {"retries": 2.0}}}, "backend.s3.retries: expected int, got float 2.0"),
    ({"space": {"lowwm": "x"}}, "space.lowwm: expected int, got str 'x'"),
    ({"space": {"highwm": 9.5}}, "space.highwm: expected int, got float 9.5"),
    ({"lru": {"bogus": 1}}, "lru.bogus: unknown setting"),
    ({"lru": {"enabled": 0}}, "lru.enabled: expected bool, got int 0"),
    ({"lru": {"dont_evict_time": False}}, "lru.dont_evict_time: expected a number, got False"),
    ({"features": "Fsync-PUT"}, "features: expected a list of strings"),
    ({"features": [3]}, "features: expected a list of strings"),
    ({"bucket_defaults": []}, "bucket_defaults: expected a table"),
    ({"state_dir": 3}, "state_dir: expected str, got int 3"),
]

RULES: list[tuple[dict[str, Any], str]] = [
    ({"auth": {"mode": "bad"}}, "auth.mode: must be open, sigv4 or jwt, not 'bad'"),
    ({"auth": {"mode": "sigv4"}}, "auth.access_keys: sigv4 mode needs at least one access key"),
    ({"auth": {"mode": "jwt"}}, "auth.jwt_secret: jwt mode needs a secret"),
    ({"auth": {"status_page": "x"}}, "auth.status_page: must be auto, open, auth or off"),
    ({"auth": {"metrics": "x"}}, "auth.metrics: must be open or auth, not 'x'"),
    ({"auth": {"access_keys": {"AK": 5}}}, "auth.access_keys: the secret of AK: "),
    ({"auth": {"users": {"bob": 5}}}, "auth.users.bob: expected a table"),
    ({"features": ["Nope"]}, "features: unknown flag 'Nope'; valid: S3-API-via-Root"),
    ({"net": {"s3_path": "s3"}}, "net.s3_path: must start with '/' and not end with '/'"),
    ({"net": {"http_server": "x"}}, "net.http_server: must be aisfs or hypercorn, not 'x'"),
    ({"net": {"listen": ["nope"]}}, "net.listen: expected HOST:PORT, got 'nope'"),
    ({"net": {"https_listen": ["1.2.3.4:443"]}}, "net.certfile: https_listen needs certfile"),
    ({"net": {"header_timeout": 0}}, "net.header_timeout: must be positive"),
    ({"net": {"workers": 0}}, "net.workers: must be an integer from 1 to 256"),
    ({"net": {"workers": 257}}, "net.workers: must be an integer from 1 to 256"),
    ({"net": {"workers": 2, "http_server": "hypercorn"}},
     'net.workers: more than 1 needs net.http_server = "aisfs"'),
    ({"store": {"chunk_size": 10}}, "store.chunk_size: must be at least 4096"),
    ({"store": {"default_copies": 0}}, "store.default_copies: must be at least 1"),
    ({"store": {"inline_max": -1}}, "store.inline_max: must not be negative"),
    ({"store": {"scrub_interval": -1}}, "store.scrub_interval: must not be negative (0: off)"),
    ({"backend": {"s3": {"connect_timeout": 0}}}, "backend.s3.connect_timeout: must be positive"),
    ({"space": {"lowwm": 95}}, "space: watermarks must hold 0 < cleanupwm <= lowwm < highwm"),
    ({"lru": {"dont_evict_time": -1}}, "lru.dont_evict_time: must not be negative"),
    ({"lru": {"capacity_upd_time": 0}}, "lru.capacity_upd_time: must be positive"),
    ({"log": {"level": "loud"}}, "log.level: unknown level 'loud'"),
]


@pytest.mark.parametrize(("data", "message"), TYPES, ids=lambda v: str(v)[:40])
def test_type_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config_from_mapping(data)
    assert str(e.value) == message


@pytest.mark.parametrize(("data", "message"), RULES, ids=lambda v: str(v)[:40])
def test_rules_across_fields_are_resolves(
    data: dict[str, Any], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    cfg = config_from_mapping(data)  # types are fine: only resolve() refuses
    with pytest.raises(ConfigError) as e:
        cfg.resolve()
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_values_are_typed_and_defaults_kept(tmp_path: Path) -> None:
    f = tmp_path / "node.toml"
    f.write_text('[net]\nkeep_alive_timeout = 5\nread_timeout = 3\n'
                 '[store]\nchunk_size = 65536\n[lru]\nenabled = false\n'
                 '[bucket_defaults]\n"checksum.type" = "md5"\n')
    cfg = load_config(f)
    assert cfg.net.keep_alive_timeout == 5.0 and isinstance(cfg.net.keep_alive_timeout, float)
    assert cfg.net.read_timeout == 3.0 and isinstance(cfg.net.read_timeout, float)
    assert cfg.store.chunk_size == 65536 and cfg.store.fsync is True
    assert cfg.lru.enabled is False and cfg.space.highwm == 90
    assert cfg.bucket_defaults == {"checksum.type": "md5"}
    assert cfg.net.listen == ["127.0.0.1:8080"] and NodeConfig() == config_from_mapping({})
    assert NodeConfig().net.listen is not NodeConfig().net.listen  # no shared default


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "node.toml"
    f.write_text("[net\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")


def test_s3_settings_are_the_config_fields_once() -> None:
    """S3Settings extends BackendS3Config: one list of fields, one redaction, hashable."""
    cfg = BackendS3Config(endpoint="http://x:1/", access_key="AK", secret_key="SEKRIT",
                          session_token="TOK")
    s = settings_for(cfg, {"extra.aws.cloud_region": "eu-1"})
    assert isinstance(s, S3Settings)
    assert S3Settings.__struct_fields__ == BackendS3Config.__struct_fields__
    assert (s.endpoint, s.region, s.access_key) == ("http://x:1", "eu-1", "AK")
    assert {s: 1}[settings_for(cfg, {"extra.aws.cloud_region": "eu-1"})] == 1
    for text in (repr(cfg), str(cfg), repr(s), str(s)):
        assert "SEKRIT" not in text and "TOK" not in text and "'***'" in text
    assert repr(s).startswith("S3Settings(") and s.label == "s3 backend http://x:1"


def test_store_settings_reach_the_store_by_name() -> None:
    settings = StoreSettings(chunk_size=1 << 20, inline_max=0, fsync=False)
    store = StoreConfig.from_settings(settings, mountpaths=[Path("/m")], index_dir=Path("/i"))
    assert (store.chunk_size, store.inline_max, store.fsync) == (1 << 20, 0, False)


def test_store_settings_and_store_config_agree_on_defaults() -> None:
    """[store] (the file's table) and StoreConfig (the store's own) share fields by name:
    a shared field has one default, whichever side a reader looks at (review row D15)."""
    import dataclasses

    import msgspec

    store_defaults = {f.name: f.default for f in dataclasses.fields(StoreConfig)
                      if f.default is not dataclasses.MISSING}
    shared = [f for f in msgspec.structs.fields(StoreSettings) if f.name in store_defaults]
    assert len(shared) >= 7
    for f in shared:
        assert f.default == store_defaults[f.name], f.name
