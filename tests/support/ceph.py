"""A real Ceph RGW for tests: one monitor, one memstore OSD, one radosgw on 127.0.0.1.

No systemd, no cephx, everything (config, data, logs, sockets) under one temp directory;
ready in ~3 s on this project's machines (docs: ../shared/reference/ceph-rgw.md). Five
settings are not obvious and each is commented where it is set.

    cluster = CephCluster.start_new()        # or CephCluster.unavailable() -> reason
    s3 = boto3.client("s3", endpoint_url=cluster.endpoint, ...cluster.access_key...)
    cluster.stop()
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BINARIES = ("monmaptool", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph")
PACKAGES = "ceph-mon ceph-osd radosgw ceph-common"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conf(d: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon_host = v2:127.0.0.1:{mon_port}
mon_initial_members = a
public_addr = 127.0.0.1
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
# without cephx radosgw would ask the monitor for a "secure" session and retry
# "get_initial_auth_request returned -13" for ever
ms_mon_client_mode = crc
# every map change would wait 1 s: ready in ~20 s instead of ~3 s
paxos_propose_interval = 0.05
# after a radosgw crash the next metadata write would wait ~25 s for its watches
osd_client_watch_timeout = 10
# the monitor refuses to start when its disk has under 5 % free (a 252 GB disk with 14 GiB
# free stopped every start: "monitor data filesystem reached concerning levels"); its data is
# a few MiB here
mon_data_avail_crit = 0
mon_data_avail_warn = 0
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_crush_chooseleaf_type = 0
mon_max_pg_per_osd = 1000
mon_allow_pool_size_one = true
osd_objectstore = memstore
memstore_device_bytes = {2 << 30}
run_dir = {d}/run
admin_socket = {d}/run/$name.asok
pid_file = {d}/run/$name.pid
log_file = {d}/log/$name.log
mon_cluster_log_file = {d}/log/cluster.log
mon_data = {d}/mon/$cluster-$id
osd_data = {d}/osd/$cluster-$id
keyring = {d}/keyring
log_to_stderr = false
err_to_stderr = true

[client.rgw]
# without tcp_nodelay every small GET waits for a delayed ACK (~20 GETs/s, not ~450)
rgw_frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw_data = {d}/rgw
rgw_enable_usage_log = false
rgw_thread_pool_size = 64
"""


@dataclass
class CephCluster:
    """One monitor, one memstore OSD and one radosgw; a user with known keys."""

    root: Path
    mon_port: int = 0
    rgw_port: int = 0
    access_key: str = "CEPHTESTACCESSKEY"
    secret_key: str = "ceph-test-secret-key-0123456789"
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    owns_root: bool = False

    @staticmethod
    def unavailable() -> str | None:
        """Why a cluster cannot be started here (None: it can)."""
        missing = [b for b in BINARIES if shutil.which(b) is None]
        if missing:
            return (
                f"Ceph is not installed (missing {', '.join(missing)}): `./run test` installs "
                f"it when root (apt-get install {PACKAGES})"
            )
        return None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rgw_port}"

    @property
    def conf(self) -> Path:
        return self.root / "ceph.conf"

    @classmethod
    def start_new(cls, timeout: float = 60.0) -> CephCluster:
        # a short path: admin sockets live under it (sun_path is 108 bytes)
        root = Path(tempfile.mkdtemp(prefix="ceph-", dir="/tmp"))
        cluster = cls(root, owns_root=True)
        try:
            cluster.start(timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    # == start ===========================================================================

    def _run(self, *args: str, timeout: float = 30.0) -> str:
        p = subprocess.run(
            [*args, "-c", str(self.conf)], capture_output=True, timeout=timeout, cwd=self.root
        )
        if p.returncode != 0:
            gone = [f"{n} exited with {d.returncode}" for n, d in self.procs.items()
                    if d.poll() is not None]
            raise RuntimeError(
                f"{' '.join(args)} exited with {p.returncode}: "
                f"{p.stderr.decode(errors='replace')[-2000:]}"
                + (f" ({', '.join(gone)}; their logs:)\n{self.logs()}" if gone else "")
            )
        return p.stdout.decode()

    def _daemon(self, name: str, *args: str) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")  # noqa: SIM115
        try:
            self.procs[name] = subprocess.Popen(
                [*args, "-f", "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT,
                cwd=self.root, start_new_session=True,
            )
        finally:
            log.close()

    def start(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for sub in ("run", "log", "mon", "osd", "rgw"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.mon_port = self.mon_port or free_port()
        self.rgw_port = self.rgw_port or free_port()
        fsid = str(uuid.uuid4())
        self.conf.write_text(_conf(self.root, fsid, self.mon_port, self.rgw_port))
        monmap = str(self.root / "monmap")
        self._run("monmaptool", "--create", "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]",
                  "--fsid", fsid, monmap)
        self._run("ceph-mon", "--mkfs", "-i", "a", "--monmap", monmap)
        self._daemon("mon.a", "ceph-mon", "-i", "a")
        osd_uuid = str(uuid.uuid4())
        osd_id = self._run("ceph", "--connect-timeout", "20", "osd", "new", osd_uuid).strip()
        (self.root / "osd" / f"ceph-{osd_id}").mkdir(exist_ok=True)
        self._run("ceph-osd", "--mkfs", "-i", osd_id, "--osd-uuid", osd_uuid)
        self._daemon(f"osd.{osd_id}", "ceph-osd", "-i", osd_id)
        self._daemon("client.rgw", "radosgw", "-n", "client.rgw")
        self._wait_http(deadline)
        self._run(
            "radosgw-admin", "user", "create", "--uid", "aisfs-test", "--display-name",
            "aisfs test", "--access-key", self.access_key, "--secret", self.secret_key,
            timeout=max(5.0, deadline - time.monotonic()),
        )

    def _wait_http(self, deadline: float) -> None:
        while True:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.endpoint, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # an S3 answer (e.g. 403) is an answer
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"radosgw did not answer on {self.endpoint}:\n{self.logs()}")
            time.sleep(0.1)

    # == stop ============================================================================

    def stop(self, timeout: float = 10.0) -> None:
        """TERM radosgw, then the OSD, then the monitor (KILL what lingers); remove the
        temp directory."""
        order = sorted(self.procs, key=lambda n: (not n.startswith("client."), n.startswith("mon")))
        for name in order:
            p = self.procs[name]
            if p.poll() is None:
                with contextlib.suppress(OSError):
                    os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(OSError):
                        os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        self.procs.clear()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def kill_rgw(self) -> None:
        """SIGKILL radosgw (a backend that goes away); ``restart_rgw`` brings it back."""
        p = self.procs.get("client.rgw")
        if p is not None and p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

    def restart_rgw(self, timeout: float = 30.0) -> None:
        self.kill_rgw()
        self._daemon("client.rgw", "radosgw", "-n", "client.rgw")
        self._wait_http(time.monotonic() + timeout)

    def logs(self) -> str:
        out = []
        for f in sorted((self.root / "log").glob("*")):
            with contextlib.suppress(OSError):
                out.append(f"== {f.name}\n{f.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)

