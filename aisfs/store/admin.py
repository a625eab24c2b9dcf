"""Run-time administration of a store: mountpath lifecycle, resilver and scrub jobs.

``store.admin`` (one ``StoreAdmin`` per open store). Every method here is blocking (call
it from a worker thread); the jobs run in their own threads and report through
``Progress`` records that callers poll.

Mountpath states (``Mountpath.state``):

* ``enabled``: read and written, in the placement order;
* ``disabled``: by an operator (``disable``): neither read nor written; its chunks are
  served from their mirror copies and a resilver restores the copy count on the others;
* ``faulted``: disabled by the health check after an I/O failure (``health.py``), same
  treatment; never re-enabled automatically;
* ``detaching``: ``detach`` of an enabled mountpath: still read, never placed on; a resilver
  moves everything it holds to the others, then it leaves the set.

``add`` opens a new directory (identity file, layout) and puts it in the placement order;
the resilver that follows moves only the chunks whose first ``copies`` mountpaths changed.
``enable`` brings a disabled or faulted mountpath back (after a probe); the resilver also
removes the manifests it holds for objects deleted or overwritten while it was away.

The set survives a restart: ``<index_dir>/mountpaths.json`` records the mountpaths added
at run time (not in the config), the configured ones that were detached, and the state of
each one that is not enabled. At open the config's list plus ``added`` minus ``detached``
is used, and the recorded states are applied. Deleting the file goes back to the config
alone. A configured mountpath that cannot be opened (missing directory, lost identity) is
shown as ``faulted`` with the reason, and can be brought back with ``enable``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .config import StoreConfig
from .core import StoreCore
from .files import replace_durably
from .health import probe
from .jobs import Progress
from .mountpath import Mountpath, open_mountpath
from .resilver import Aborted, drain, purge_stale_manifests, rewrite_buckets, walk
from .scrub import run_scrub

log = logging.getLogger(__name__)

STATE_FILE = "mountpaths.json"
UNUSABLE_AT_OPEN = "unusable at open"


class MountpathError(Exception):
    """A lifecycle request that cannot be done; ``status``: the HTTP status it maps to."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _norm(path: str | os.PathLike[str]) -> str:
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def load_state(index_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(index_dir) / STATE_FILE).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("ignoring unreadable %s: %s", Path(index_dir) / STATE_FILE, e)
        return {}
    return data if isinstance(data, dict) else {}


def effective_mountpaths(config: StoreConfig) -> list[Path]:
    """The config's mountpaths, plus those added at run time, minus those detached."""
    state = load_state(config.index_dir)
    paths = [str(p) for p in config.mountpaths]
    for p in state.get("added") or []:
        if p not in paths:
            paths.append(p)
    detached = set(state.get("detached") or [])
    return [Path(p) for p in paths if p not in detached]


class StoreAdmin:
    def __init__(self, core: StoreCore) -> None:
        self.core = core
        self._lock = threading.RLock()  # lifecycle changes, one at a time
        self._state_lock = threading.Lock()
        self._jobs = threading.Condition()
        self._closing = threading.Event()
        # resilver: wanted scope, request generations, the job thread
        self._rs_thread: threading.Thread | None = None
        self._rs_all = False
        self._rs_buckets: set[str] = set()
        self._rs_reasons: list[str] = []
        self._rs_gen = 0
        self._rs_preempt = threading.Event()
        self.resilver_progress: Progress | None = None
        # scrub
        self._scrub_thread: threading.Thread | None = None
        self.scrub_progress: Progress | None = None
        # detaching mountpath root -> the request generation a resilver must reach
        self._detach: dict[str, int] = {}
        # roots whose stale manifests the next full resilver removes
        self._rescan: set[str] = set()
        core.mps.on_fault = self._on_fault

    # == persisted state ==================================================================

    @property
    def state_path(self) -> Path:
        return Path(self.core.config.index_dir) / STATE_FILE

    def restore(self) -> None:
        """At open: apply the recorded states; show unusable configured mountpaths."""
        state = load_state(self.core.config.index_dir)
        states = state.get("states") or {}
        mps = self.core.mps
        for mp in mps.all:
            s = states.get(mp.root) or {}
            if s.get("state") in ("disabled", "faulted"):
                mp.enabled = False
                mp.reason = str(s.get("reason") or "admin")
                log.warning("mountpath %s stays %s (%s)", mp.root, mp.state, mp.reason)
            elif s.get("state") == "detaching":
                mp.detaching = True
                self._detach[mp.root] = 0
        opened = {mp.root for mp in mps.all}
        known = dict(self.core.index.rows("SELECT path, uuid FROM mountpaths"))
        extra = []
        for p in effective_mountpaths(self.core.config):
            if str(p) not in opened:
                extra.append(Mountpath(path=p, uuid=known.get(str(p), ""), enabled=False,
                                       reason=f"{UNUSABLE_AT_OPEN} (see the log)"))
        if extra:
            mps.all = [*mps.all, *extra]
        if self._detach:
            self.request_resilver(reason="detach interrupted by a restart")

    def save_state(self) -> None:
        with self._state_lock:
            old = load_state(self.core.config.index_dir)
            config_paths = [str(p) for p in self.core.config.mountpaths]
            roots = [mp.root for mp in self.core.mps.all]
            added = [r for r in roots if r not in config_paths]
            detached = [p for p in config_paths if p not in roots]
            detached += [p for p in old.get("detached") or [] if p not in roots + detached]
            states = {
                mp.root: {"state": mp.state, "reason": mp.reason, "uuid": mp.uuid}
                for mp in self.core.mps.all
                if mp.state != "enabled" and not mp.reason.startswith(UNUSABLE_AT_OPEN)
            }
            data = json.dumps(
                {"v": 1, "added": added, "detached": detached, "states": states}, indent=1
            ).encode()
            path = self.state_path
            replace_durably(f"{path}.tmp", str(path), data, self.core.config.fsync)

    # == mountpaths =======================================================================

    def mountpaths(self) -> list[dict[str, Any]]:
        out = []
        for mp in self.core.mps.all:
            entry: dict[str, Any] = {
                "path": mp.root, "uuid": mp.uuid, "state": mp.state, "enabled": mp.enabled,
                "io_errors": mp.io_errors, "reason": mp.reason,
            }
            try:
                entry.update(mp.capacity())
            except OSError:
                pass
            if mp.enabled:
                entry["weight"] = mp.weight
            out.append(entry)
        return out

    def _find(self, path: str) -> Mountpath:
        root = _norm(path)
        for mp in self.core.mps.all:
            if mp.root == root or mp.root == str(path):
                return mp
        raise MountpathError(f"{path}: not a mountpath of this node", 404)

    def _placement_left(self, without: Mountpath) -> int:
        return sum(
            1 for mp in self.core.mps.all if mp.enabled and not mp.detaching and mp is not without
        )

    def add(self, path: str) -> dict[str, Any]:
        """Attach a new mountpath; it joins placement and a resilver fills it."""
        root = _norm(path)
        with self._lock:
            for mp in self.core.mps.all:
                if mp.root == root:
                    if mp.reason.startswith(UNUSABLE_AT_OPEN):
                        return self.enable(root)
                    raise MountpathError(
                        f"{root} is already a mountpath ({mp.state})"
                        + ("; use enable" if not mp.enabled else ""),
                        409,
                    )
            if not os.path.isdir(root):
                raise MountpathError(f"{root}: not a directory (it is never created)", 400)
            known = self.core.index.row("SELECT uuid FROM mountpaths WHERE path = ?", (root,))
            new = open_mountpath(Path(root), known[0] if known else None,
                                 self.core.config.fsync)
            if new is None:
                raise MountpathError(f"{root}: cannot be used as a mountpath (see the log)")
            for mp in self.core.mps.all:
                if mp.uuid == new.uuid:
                    raise MountpathError(
                        f"{root} has the identity of mountpath {mp.root} ({mp.uuid})", 409
                    )
            with self.core.index.wlock:
                self.core.index.w.execute(
                    "INSERT OR REPLACE INTO mountpaths (path, uuid) VALUES (?, ?)",
                    (new.root, new.uuid),
                )
            self.core.mps.all = [*self.core.mps.all, new]
            self._rescan.add(new.root)
            self.save_state()
            log.info("mountpath %s added (%s)", root, new.uuid)
        self.request_resilver(reason=f"mountpath {root} added")
        return self._entry(new)

    def disable(self, path: str) -> dict[str, Any]:
        with self._lock:
            mp = self._find(path)
            if not mp.enabled:
                return self._entry(mp)
            if mp.detaching:
                raise MountpathError(f"{mp.root} is being detached", 409)
            if self._placement_left(mp) == 0:
                raise MountpathError(f"{mp.root} is the last enabled mountpath", 409)
            mp.enabled = False
            mp.reason = "admin"
            self.save_state()
            log.warning("mountpath %s disabled by request", mp.root)
        self.request_resilver(reason=f"mountpath {mp.root} disabled")
        return self._entry(mp)

    def enable(self, path: str) -> dict[str, Any]:
        with self._lock:
            mp = self._find(path)
            if mp.enabled:
                return self._entry(mp)
            reopened = open_mountpath(mp.path, mp.uuid or None, self.core.config.fsync)
            if reopened is None:
                raise MountpathError(f"{mp.root}: still unusable (see the log)", 409)
            if mp.uuid and reopened.uuid != mp.uuid:
                raise MountpathError(
                    f"{mp.root}: identity changed ({mp.uuid} -> {reopened.uuid})", 409
                )
            why = probe(reopened)
            if why is not None:
                raise MountpathError(f"{mp.root}: health check failed: {why}", 409)
            if not mp.uuid:
                with self.core.index.wlock:
                    self.core.index.w.execute(
                        "INSERT OR REPLACE INTO mountpaths (path, uuid) VALUES (?, ?)",
                        (reopened.root, reopened.uuid),
                    )
            mp.uuid = reopened.uuid
            mp.weight = reopened.weight
            mp.reason = ""
            mp.detaching = False
            mp.enabled = True
            self._rescan.add(mp.root)
            self.save_state()
            log.info("mountpath %s enabled", mp.root)
        self.request_resilver(reason=f"mountpath {mp.root} enabled")
        return self._entry(mp)

    def detach(self, path: str) -> dict[str, Any]:
        """Move the data away (resilver), then remove the mountpath from the set. A disabled
        mountpath leaves at once (its data is served from the mirrors)."""
        with self._lock:
            mp = self._find(path)
            if mp.detaching:
                return self._entry(mp)
            if not mp.enabled:
                self._remove(mp)
                self.request_resilver(reason=f"mountpath {mp.root} detached")
                return {**self._entry(mp), "state": "detached"}
            if self._placement_left(mp) == 0:
                raise MountpathError(f"{mp.root} is the last enabled mountpath", 409)
            mp.detaching = True
            self.save_state()
            # placements and manifest installs that chose it before now are finished
            self.core.chunks.stripe_barrier()
            with self.core.index.wlock:
                pass
            log.warning("mountpath %s detaching: moving its data away", mp.root)
            with self._jobs:
                self._detach[mp.root] = self._rs_gen + 1
            self.request_resilver(reason=f"mountpath {mp.root} detaching")
        return self._entry(mp)

    def _remove(self, mp: Mountpath) -> None:
        mp.enabled = False
        mp.detaching = False
        self.core.mps.all = [m for m in self.core.mps.all if m is not mp]
        self._detach.pop(mp.root, None)
        self._rescan.discard(mp.root)
        with self.core.index.wlock:
            self.core.index.w.execute("DELETE FROM mountpaths WHERE path = ?", (mp.root,))
        self.save_state()
        log.warning("mountpath %s detached", mp.root)

    def _entry(self, mp: Mountpath) -> dict[str, Any]:
        return {"path": mp.root, "uuid": mp.uuid, "state": mp.state,
                "io_errors": mp.io_errors, "reason": mp.reason}

    def _on_fault(self, mp: Mountpath) -> None:
        try:
            self.save_state()
        except OSError as e:
            log.error("mountpath state not saved: %s", e)
        self._detach.pop(mp.root, None)
        self.request_resilver(reason=f"mountpath {mp.root} faulted")

    # == resilver ========================================================================

    def request_resilver(self, buckets: list[str] | None = None, reason: str = "") -> int:
        """Ask for a resilver of ``buckets`` (None: everything); a running one is
        preempted and restarts with the union. Returns the request's generation."""
        with self._jobs:
            if self._closing.is_set():
                return self._rs_gen
            self._rs_gen += 1
            if buckets is None:
                self._rs_all = True
            else:
                self._rs_buckets |= set(buckets)
            if reason:
                self._rs_reasons.append(reason)
            if self._rs_thread is None:
                self._rs_thread = threading.Thread(
                    target=self._resilver_loop, name="aisfs-resilver", daemon=True
                )
                self._rs_thread.start()
            else:
                self._rs_preempt.set()
            return self._rs_gen

    def _should_stop(self) -> None:
        if self._closing.is_set():
            raise Aborted("the store is closing")
        if self._rs_preempt.is_set():
            raise Aborted("preempted by a newer request")

    def _resilver_loop(self) -> None:
        while True:
            with self._jobs:
                if self._closing.is_set() or not (self._rs_all or self._rs_buckets):
                    self._rs_thread = None
                    self._jobs.notify_all()
                    return
                scope = None if self._rs_all else sorted(self._rs_buckets)
                gen = self._rs_gen
                reason = "; ".join(dict.fromkeys(self._rs_reasons))
                self._rs_all = False
                self._rs_buckets = set()
                self._rs_reasons = []
                self._rs_preempt.clear()
                prog = Progress("resilver", reason=reason, buckets=scope)
                self.resilver_progress = prog
            log.info("resilver %s started (%s)", prog.id, reason or "requested")
            try:
                if scope is None:
                    rewrite_buckets(self.core)
                walk(self.core, prog, "resilver", scope, self._should_stop)
                if scope is None:
                    self._finish_full(prog, gen)
                prog.finish("done")
                log.info(
                    "resilver %s done: %d objects, %d copies added, %d removed, %d lost chunks",
                    prog.id, prog.objects_done, prog.copies_added, prog.copies_removed,
                    prog.lost_chunks,
                )
            except Aborted as e:
                prog.finish("aborted", str(e))
                log.info("resilver %s aborted: %s", prog.id, e)
                with self._jobs:
                    if scope is None:
                        self._rs_all = True
                    else:
                        self._rs_buckets |= set(scope)
                    if reason:
                        self._rs_reasons.insert(0, reason)
            except Exception as e:
                log.exception("resilver %s failed", prog.id)
                prog.finish("failed", f"{type(e).__name__}: {e}")

    def _finish_full(self, prog: Progress, gen: int) -> None:
        for root in list(self._rescan):
            mp = next((m for m in self.core.mps.all if m.root == root and m.enabled), None)
            if mp is not None:
                purge_stale_manifests(self.core, mp, prog, self._should_stop)
            self._rescan.discard(root)
        for root, want in list(self._detach.items()):
            if want > gen:
                continue
            with self._lock:
                mp = next((m for m in self.core.mps.all if m.root == root), None)
                if mp is None or not mp.detaching:
                    self._detach.pop(root, None)
                    continue
                drain(self.core, mp, prog, self._should_stop)
                self._remove(mp)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no resilver runs or is wanted; False on timeout."""
        with self._jobs:
            return self._jobs.wait_for(
                lambda: self._rs_thread is None and self._scrub_thread is None, timeout
            )

    # == scrub ===========================================================================

    def scrub(self, buckets: list[str] | None = None) -> Progress:
        """Start a scrub (or return the one running)."""
        with self._jobs:
            if self._scrub_thread is not None and self.scrub_progress is not None:
                return self.scrub_progress
            if self._closing.is_set():
                raise MountpathError("the store is closing", 503)
            prog = Progress("scrub", reason="requested", buckets=buckets)
            self.scrub_progress = prog
            self._scrub_thread = threading.Thread(
                target=self._scrub_run, args=(prog,), name="aisfs-scrub", daemon=True
            )
            self._scrub_thread.start()
            return prog

    def _scrub_run(self, prog: Progress) -> None:
        def should_stop() -> None:
            if self._closing.is_set():
                raise Aborted("the store is closing")

        log.info("scrub %s started", prog.id)
        try:
            run_scrub(self.core, prog, should_stop)
            prog.finish("done")
            log.info(
                "scrub %s done: %d chunks checked, %d copies repaired, %d added, "
                "%d lost chunks, %d unrepairable objects",
                prog.id, prog.chunks_checked, prog.copies_repaired, prog.copies_added,
                prog.lost_chunks, prog.unrepairable_count,
            )
        except Aborted as e:
            prog.finish("aborted", str(e))
        except Exception as e:
            log.exception("scrub %s failed", prog.id)
            prog.finish("failed", f"{type(e).__name__}: {e}")
        finally:
            with self._jobs:
                self._scrub_thread = None
                self._jobs.notify_all()

    # == status, close ===================================================================

    def status(self) -> dict[str, Any]:
        with self._jobs:
            pending = self._rs_all or bool(self._rs_buckets)
            rs = self.resilver_progress
            sc = self.scrub_progress
            running = self._rs_thread is not None
        return {
            "resilver": rs.to_json() if rs else None,
            "resilver_running": running,
            "resilver_pending": pending,
            "scrub": sc.to_json() if sc else None,
            "detaching": sorted(self._detach),
        }

    def close(self, timeout: float = 60.0) -> None:
        self._closing.set()
        self._rs_preempt.set()
        for t in (self._rs_thread, self._scrub_thread):
            if t is not None:
                t.join(timeout)


__all__ = ["MountpathError", "StoreAdmin", "effective_mountpaths"]
