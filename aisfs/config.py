"""Node settings: typed defaults, a TOML file, then flags.

The embedded default needs no file at all: data under ``~/.local/share/aisfs`` with two
mountpaths, listening on 127.0.0.1:8080, S3 at ``/s3``, open auth. An unknown key or a
value of the wrong kind is a ``ConfigError`` naming the key (the CLI prints one line and
exits 2).

Each section is a ``msgspec.Struct``: ``msgspec.convert`` checks a TOML table against it
strictly (a bool is not a number, an int is a float, unknown keys are refused) and
``_config_error`` rewrites its first error to the one-line ``key: ...`` form. The rules
across fields (auth modes, watermarks, listen addresses...) are checked in ``resolve()``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
from msgspec import field

DEFAULT_CONFIG_FILE = Path("/etc/aisfs/node.toml")

# AIStore's feature flags by name (cmn/feat/feat.go); the ones aisfs acts on are marked in
# the README. Unknown names are refused with this list.
FEATURE_FLAGS = (
    "S3-API-via-Root",
    "S3-Presigned-Request",
    "S3-Reverse-Proxy",
    "S3-Use-Path-Style",
    "S3-ListObjectVersions",
    "Fsync-PUT",
    "Disable-Cold-GET",
    "Streaming-Cold-GET",
    "Enforce-IntraCluster-Access",
    "Skip-Loading-VersionChecksum-MD",
    "Do-not-Auto-Detect-FileShare",
    "Provide-S3-API-via-Root",
)


class ConfigError(Exception):
    """A bad setting: the message names the key."""


class Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A table of the config file: its keys are the fields, any other key is refused."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "aisfs"


class NetConfig(Section):
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1:8080"])
    https_listen: list[str] = field(default_factory=list)
    certfile: str = ""
    keyfile: str = ""
    s3_path: str = "/s3"
    virtual_host_domain: str = ""
    # the HTTP/1.1 server: "aisfs" (aisfs_node/h1server.py, the default) or "hypercorn"
    http_server: str = "aisfs"
    # generous, so a multi-GiB transfer over a slow link never trips them
    keep_alive_timeout: float = 75.0
    # seconds from a request head's first byte to its end (aisfs_node.h1server): a client that
    # trickles its head holds a connection no longer (slowloris); 408 and close after
    header_timeout: float = 30.0
    read_timeout: float | None = None
    graceful_timeout: float = 30.0
    # processes serving the listeners (SO_REUSEPORT): 1 is the node alone; N > 1 adds
    # N-1 read workers that serve GET/HEAD of local objects themselves and hand every
    # other request to this process over a Unix socket (aisfs_node/workers.py)
    workers: int = 1


def _check_workers(net: NetConfig) -> None:
    if isinstance(net.workers, bool) or not 1 <= net.workers <= 256:
        raise ConfigError("net.workers: must be an integer from 1 to 256")
    if net.workers > 1 and net.http_server != "aisfs":
        raise ConfigError('net.workers: more than 1 needs net.http_server = "aisfs"')


class StoreSettings(Section):
    mountpaths: list[str] = field(default_factory=list)
    index_dir: str = ""
    chunk_size: int = 8 * 1024 * 1024
    fsync: bool = True
    default_copies: int = 1
    gc_interval: float = 600.0
    # seconds between scheduled scrubs of every chunk (verify, repair from mirrors);
    # 0: only on demand (`aisfs node scrub`). E.g. 604800 for weekly.
    scrub_interval: float = 0.0
    gc_grace_seconds: float = 3600.0
    upload_max_age: float = 7 * 24 * 3600.0
    # the minimum for every part but the last: AWS says 5 MiB; 5,000,000 bytes lets the
    # seed's boto3 example (5,000,000-byte parts) work as written
    min_part_size: int = 5_000_000
    # PUT bodies of at most this many bytes are kept inline in their manifest (no chunk
    # file); 0: off. Multipart objects are always chunked.
    inline_max: int = 64 * 1024
    # a current manifest of at most this many bytes (a small object's JSON with its
    # inline bytes) is a row of its mountpath's small.db, not a file of its own; 0: off
    shelf_max: int = 16 * 1024
    # a small PUT's commit and a delete run on the event loop, not in a worker thread,
    # when no other request is in flight (~20 % more small requests/s served one at a
    # time); false: always in a thread
    short_steps_on_loop: bool = True


class AuthConfig(Section):
    mode: str = "open"  # open | sigv4 | jwt
    # the keys of one admin user, "aisfs" (as before users existed): { AKID = "SECRET" }
    # (values typed Any: aisfs.auth.users checks each key and secret, with its messages)
    access_keys: dict[str, Any] = field(default_factory=dict)
    # [auth.users.NAME]: access_keys = { AKID = "SECRET" }, display_name, id (64 hex),
    # jwt_subjects = [...], admin = true (aisfs/auth/users.py; docs/auth.md)
    users: dict[str, Any] = field(default_factory=dict)
    jwt_secret: str = ""
    region: str = "us-east-1"
    # the read-only status page /v1/ui (aisfs_node/dashboard.py): "open" as /metrics and
    # /v1/health, "auth" checked as /v1 is (when auth.mode is not open), or "off" (404)
    status_page: str = "auto"  # auto: open on an open node, else as /v1 (auth)
    # /metrics, /health and /v1/health: "open" (probes and scrapers need no credentials)
    # or "auth" (any user or token the node accepts, when auth.mode is not open)
    metrics: str = "open"

    def __repr__(self) -> str:  # secrets never in a log or a traceback
        users = sorted(self.users)
        return (f"AuthConfig(mode={self.mode!r}, access_keys={sorted(self.access_keys)}, "
                f"users={users}, jwt_secret={'***' if self.jwt_secret else ''!r}, "
                f"region={self.region!r}, status_page={self.status_page!r}, "
                f"metrics={self.metrics!r})")


class LogConfig(Section):
    level: str = "info"
    json: bool = False


S3_SECRET_FIELDS = ("secret_key", "session_token")


class BackendS3Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """``[backend.s3]``: the S3 cluster remote buckets (``s3://B``, ``backend_bck``) live in.

    Empty ``endpoint``: AWS itself. Empty ``access_key``/``secret_key``: the usual AWS
    chain (environment, ``profile`` in ~/.aws, instance metadata) via botocore. Per-bucket
    overrides are AIS bucket props (``extra.aws.endpoint``, ``extra.aws.profile``,
    ``extra.aws.cloud_region``); aisfs/backend/settings.py merges them into an
    ``S3Settings``, this class frozen and extended - the fields are declared here only.
    (Frozen, hence not a ``Section``: a frozen struct cannot extend a mutable one.)
    """

    endpoint: str = ""
    region: str = "us-east-1"
    addressing: str = "path"  # "path" | "virtual"
    access_key: str = ""
    secret_key: str = ""
    session_token: str = ""
    profile: str = ""
    verify_tls: bool = True
    ca_file: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # backend requests in flight at once (open GET streams included)
    max_concurrency: int = 64
    multipart_threshold: int = 16 * 1024 * 1024
    part_size: int = 16 * 1024 * 1024
    # the largest object one CopyObject copies (S3's limit); past it, UploadPartCopy parts
    copy_max: int = 5 * 1024**3
    # extra attempts of an idempotent call after a 5xx, a throttle or a network error
    retries: int = 3

    def __repr__(self) -> str:  # secrets never in a log or a traceback (S3Settings too)
        shown = []
        for name in self.__struct_fields__:
            v = getattr(self, name)
            if name in S3_SECRET_FIELDS and v:
                v = "***"
            shown.append(f"{name}={v!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    __str__ = __repr__


class SpaceConfig(Section):
    """``[space]``: AIS's watermarks, in percent of a file system's capacity used.

    Past ``highwm`` the LRU (when ``lru.enabled``) evicts cached copies of remote objects
    until usage is under ``lowwm``; ``ais://`` data is never evicted. ``cleanupwm`` and
    ``out_of_space`` are AIS's other two marks (kept for the same config file).
    """

    cleanupwm: int = 65
    lowwm: int = 75
    highwm: int = 90
    out_of_space: int = 95


class LruConfig(Section):
    """``[lru]``: eviction of cached remote objects (AIS ``lru.*``)."""

    enabled: bool = True
    # a cached object read or written this recently (seconds) is never evicted
    dont_evict_time: float = 7200.0
    # seconds between two looks at the mountpaths' usage (AIS capacity_upd_time)
    capacity_upd_time: float = 600.0


class LifecycleConfig(Section):
    """``[lifecycle]``: the bucket lifecycle worker (docs/lifecycle.md); the environment
    variables AISFS_LC_DAY_SECONDS / AISFS_LC_INTERVAL override it (tests)."""

    # the length of a lifecycle "day" in seconds (RGW's rgw_lc_debug_interval)
    day_seconds: float = 86_400.0
    # seconds between two runs of the worker
    interval: float = 3_600.0


class BackendConfig(Section):
    s3: BackendS3Config = field(default_factory=BackendS3Config)


class S3Config(Section):
    # SSE-C keys over plain HTTP (AWS refuses them: the key would cross the network in
    # clear); for a node behind a TLS-terminating proxy, or tests (docs/encryption.md)
    sse_c_over_http: bool = False


class NodeConfig(Section):
    net: NetConfig = field(default_factory=NetConfig)
    store: StoreSettings = field(default_factory=StoreSettings)
    auth: AuthConfig = field(default_factory=AuthConfig)
    log: LogConfig = field(default_factory=LogConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    lru: LruConfig = field(default_factory=LruConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    s3: S3Config = field(default_factory=S3Config)
    features: list[str] = field(default_factory=list)
    # bucket property defaults for new buckets (AIS cluster config), e.g. {"checksum.type": "md5"}
    bucket_defaults: dict[str, Any] = field(default_factory=dict)
    # where run-time changes (feature flags, cluster config) are persisted
    state_dir: str = ""

    def resolve(self) -> NodeConfig:
        """Fill the embedded defaults and check cross-field rules."""
        data = default_data_dir()
        if not self.store.mountpaths:
            self.store.mountpaths = [str(data / "mp1"), str(data / "mp2")]
        if not self.store.index_dir:
            self.store.index_dir = str(data / "index")
        if not self.state_dir:
            self.state_dir = self.store.index_dir
        self.store.mountpaths = [str(Path(p).expanduser()) for p in self.store.mountpaths]
        self.store.index_dir = str(Path(self.store.index_dir).expanduser())
        self.state_dir = str(Path(self.state_dir).expanduser())
        if self.auth.mode not in ("open", "sigv4", "jwt"):
            raise ConfigError(f"auth.mode: must be open, sigv4 or jwt, not {self.auth.mode!r}")
        _check_users(self.auth)
        if self.auth.mode == "sigv4" and not (
            self.auth.access_keys
            or any(isinstance(u, dict) and u.get("access_keys") for u in self.auth.users.values())
        ):
            raise ConfigError("auth.access_keys: sigv4 mode needs at least one access key "
                              "([auth.access_keys] or a user's in [auth.users.NAME])")
        if self.auth.mode == "jwt" and not self.auth.jwt_secret:
            raise ConfigError("auth.jwt_secret: jwt mode needs a secret")
        if self.auth.status_page not in ("auto", "open", "auth", "off"):
            raise ConfigError(
                f"auth.status_page: must be auto, open, auth or off, not {self.auth.status_page!r}")
        if self.auth.metrics not in ("open", "auth"):
            raise ConfigError(f"auth.metrics: must be open or auth, not {self.auth.metrics!r}")
        for flag in self.features:
            if flag not in FEATURE_FLAGS:
                raise ConfigError(
                    f"features: unknown flag {flag!r}; valid: {', '.join(FEATURE_FLAGS)}"
                )
        if not self.net.s3_path.startswith("/") or self.net.s3_path.endswith("/"):
            raise ConfigError("net.s3_path: must start with '/' and not end with '/'")
        if self.net.http_server not in ("aisfs", "hypercorn"):
            raise ConfigError(
                f"net.http_server: must be aisfs or hypercorn, not {self.net.http_server!r}"
            )
        for addr in self.net.listen + self.net.https_listen:
            parse_listen(addr, key="net.listen")
        if self.net.https_listen and not (self.net.certfile and self.net.keyfile):
            raise ConfigError("net.certfile: https_listen needs certfile and keyfile")
        if self.net.header_timeout <= 0:
            raise ConfigError("net.header_timeout: must be positive")
        _check_workers(self.net)
        _check_store(self.store)
        _check_backend_s3(self.backend.s3)
        _check_space(self.space, self.lru)
        _check_lifecycle(self.lifecycle)
        if self.log.level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"log.level: unknown level {self.log.level!r}")
        return self


def _check_store(store: StoreSettings) -> None:
    if store.chunk_size < 4096:
        raise ConfigError("store.chunk_size: must be at least 4096")
    if store.default_copies < 1:
        raise ConfigError("store.default_copies: must be at least 1")
    for name in ("inline_max", "shelf_max"):  # shelf_max's upper bound: StoreConfig
        if getattr(store, name) < 0:
            raise ConfigError(f"store.{name}: must not be negative")
    if store.scrub_interval < 0:
        raise ConfigError("store.scrub_interval: must not be negative (0: off)")


def _check_users(auth: AuthConfig) -> None:
    """``[auth.users.NAME]`` and ``[auth.access_keys]`` make a valid set of users."""
    from aisfs.auth.users import UserError, users_from_config

    try:
        users_from_config(auth.access_keys, auth.users)
    except UserError as e:
        raise ConfigError(str(e)) from None


def _check_space(space: SpaceConfig, lru: LruConfig) -> None:
    marks = (space.cleanupwm, space.lowwm, space.highwm, space.out_of_space)
    if not 0 < space.cleanupwm <= space.lowwm < space.highwm <= space.out_of_space <= 100:
        raise ConfigError(
            "space: watermarks must hold 0 < cleanupwm <= lowwm < highwm <= out_of_space "
            f"<= 100, not {marks}")
    if lru.dont_evict_time < 0:
        raise ConfigError("lru.dont_evict_time: must not be negative")
    if lru.capacity_upd_time <= 0:
        raise ConfigError("lru.capacity_upd_time: must be positive")


def _check_lifecycle(lc: LifecycleConfig) -> None:
    for name in ("day_seconds", "interval"):
        if getattr(lc, name) <= 0:
            raise ConfigError(f"lifecycle.{name}: must be positive")


def _check_backend_s3(b: BackendS3Config) -> None:
    if b.addressing not in ("path", "virtual"):
        raise ConfigError(
            f"backend.s3.addressing: must be path or virtual, not {b.addressing!r}"
        )
    if b.endpoint and not b.endpoint.startswith(("http://", "https://")):
        raise ConfigError(
            f"backend.s3.endpoint: expected http(s)://HOST[:PORT], got {b.endpoint!r}"
        )
    if bool(b.access_key) != bool(b.secret_key):
        raise ConfigError("backend.s3.access_key: access_key and secret_key go together")
    if b.ca_file and not Path(b.ca_file).expanduser().is_file():
        raise ConfigError(f"backend.s3.ca_file: no such file {b.ca_file!r}")
    for name in ("connect_timeout", "read_timeout"):
        if getattr(b, name) <= 0:
            raise ConfigError(f"backend.s3.{name}: must be positive")
    if b.max_concurrency < 1:
        raise ConfigError("backend.s3.max_concurrency: must be at least 1")
    if b.part_size < 5 * 1024 * 1024 or b.part_size > 5 * 1024**3:
        raise ConfigError("backend.s3.part_size: must be between 5 MiB and 5 GiB (S3's limits)")
    if b.copy_max < 5 * 1024 * 1024 or b.copy_max > 5 * 1024**3:
        raise ConfigError("backend.s3.copy_max: must be between 5 MiB and 5 GiB (S3's limit)")
    if b.multipart_threshold < 1:
        raise ConfigError("backend.s3.multipart_threshold: must be positive")
    if b.retries < 0:
        raise ConfigError("backend.s3.retries: must not be negative")


def parse_listen(addr: str, key: str = "listen") -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or len(port) > 5 or not host \
            or int(port) > 65535:
        raise ConfigError(f"{key}: expected HOST:PORT, got {addr!r}")
    return host.strip("[]"), int(port)


def config_from_mapping(data: dict[str, Any]) -> NodeConfig:
    """``data`` (a parsed TOML document) as a ``NodeConfig``: types and keys checked."""
    try:
        return msgspec.convert(data, NodeConfig)
    except msgspec.ValidationError as e:
        raise _config_error(str(e), data) from None


_EXPECTED = re.compile(r"Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>[^`]+)`")
_STEP = re.compile(r"\.([^.\[]+)|\[([^\]]*)\]")


def _config_error(text: str, data: dict[str, Any]) -> ConfigError:
    """msgspec's ``Expected `float`, got `str` - at `$.net.keep_alive_timeout``` as
    ``net.keep_alive_timeout: expected float, got str 'x'`` (the key dotted, the value
    shown; an element of a list stands for its list: every list here is of strings)."""
    message, _, where = text.partition(" - at `")
    keys: list[str] = []
    in_list = False
    for m in _STEP.finditer(where.rstrip("`").removeprefix("$")):
        if m[1] is not None and not in_list:
            keys.append(m[1])
        else:
            in_list = True
    unknown = _UNKNOWN.fullmatch(message)
    if unknown:
        return ConfigError(f"{'.'.join([*keys, unknown['name']])}: unknown setting")
    key = ".".join(keys)
    expected = _EXPECTED.fullmatch(message)
    if expected is None:
        return ConfigError(f"{key}: {message}")
    want = expected["want"].replace(" | null", "")
    if in_list or want == "array":
        return ConfigError(f"{key}: expected a list of strings")
    if want == "object":
        return ConfigError(f"{key}: expected a table")
    value: Any = data
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    if want in ("int", "float") and isinstance(value, bool):
        return ConfigError(f"{key}: expected a number, got {value!r}")
    return ConfigError(f"{key}: expected {want}, got {type(value).__name__} {value!r}")


def load_config(path: Path | None) -> NodeConfig:
    """Read ``path`` (or /etc/aisfs/node.toml when present, else the embedded default)."""
    if path is None:
        if not DEFAULT_CONFIG_FILE.exists():
            return NodeConfig()
        path = DEFAULT_CONFIG_FILE
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such config file") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    return config_from_mapping(data)
