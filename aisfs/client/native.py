"""A small synchronous client of a node's native ``/v1`` API (httpx), used by the CLI.

Each method is one request of AIStore's REST API as the node serves it (see
docs/native-api.md). Failures raise ``NativeError`` with the node's one-line message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import quote

import httpx

from aisfs.native import CUSTOM_MD_HEADER, encode_custom_md

DEFAULT_ENDPOINT = "http://localhost:8080"


class NativeError(Exception):
    """A request failed: ``status`` (0 when the node could not be reached) and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def resolve_endpoint(endpoint: str | None = None) -> str:
    url = endpoint or os.environ.get("AIS_ENDPOINT") or DEFAULT_ENDPOINT
    if "://" not in url:
        url = "http://" + url
    return url.rstrip("/")


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"checksum.type": "md5"}`` -> ``{"checksum": {"type": "md5"}}``."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def _message(resp: httpx.Response) -> str:
    raw = resp.headers.get("hdr-error") if resp.request.method == "HEAD" else None
    text = raw if raw is not None else resp.text if resp.request.method != "HEAD" else ""
    if text:
        try:
            doc = json.loads(text)
            if isinstance(doc, dict) and doc.get("message"):
                return str(doc["message"])
        except ValueError:
            pass
        return text.strip().splitlines()[0][:500]
    return f"HTTP {resp.status_code} {resp.reason_phrase}".strip()


def _json_object(resp: httpx.Response) -> dict[str, Any]:
    data = resp.json()
    if not isinstance(data, dict):
        raise NativeError(resp.status_code, f"{resp.request.url}: expected a JSON object")
    return data


class NativeClient:
    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        timeout: float = 60.0,
        max_connections: int = 16,
    ) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        token = token or os.environ.get("AIS_AUTHN_TOKEN") or os.environ.get("AISFS_TOKEN")
        headers = {"user-agent": "aisfs-cli"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        verify: bool | str = False  # plain http: no TLS context to build (saves ~0.3 s)
        if self.endpoint.startswith("https://"):
            skip = os.environ.get("AIS_SKIP_VERIFY", "").lower() in ("1", "true", "yes")
            verify = False if skip else os.environ.get("AIS_CLIENT_CA") or True
        self.http = httpx.Client(
            base_url=self.endpoint,
            headers=headers,
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> NativeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- plumbing -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        action: str | None = None,
        value: Any = None,
        name: str = "",
        params: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        content: Any = None,
    ) -> httpx.Response:
        body = content
        hdrs = dict(headers or {})
        if action is not None:
            body = json.dumps({"action": action, "name": name, "value": value}).encode()
            hdrs.setdefault("content-type", "application/json")
        try:
            query = None
            if params is not None:
                query = tuple(params.items() if isinstance(params, Mapping) else params)
            resp = self.http.request(method, path, params=query, headers=hdrs, content=body)
        except httpx.HTTPError as e:
            raise NativeError(0, f"cannot reach {self.endpoint}: {e}") from None
        if resp.status_code >= 400:
            raise NativeError(resp.status_code, _message(resp))
        return resp

    @staticmethod
    def _obj_path(bucket: str, key: str) -> str:
        return f"/v1/objects/{quote(bucket, safe='')}/{quote(key, safe='/')}"

    @staticmethod
    def _bck_path(bucket: str) -> str:
        return f"/v1/buckets/{quote(bucket, safe='')}"

    # ---- cluster ------------------------------------------------------------------

    def health(self) -> bool:
        try:
            return self.http.get("/v1/health").status_code == 200
        except httpx.HTTPError:
            return False

    def smap(self) -> dict[str, Any]:
        return _json_object(self.request("GET", "/v1/daemon", params={"what": "smap"}))

    def node_stats(self) -> dict[str, Any]:
        return _json_object(self.request("GET", "/v1/daemon", params={"what": "node_status"}))

    def mountpaths(self) -> dict[str, Any]:
        return _json_object(self.request("GET", "/v1/daemon", params={"what": "mountpaths"}))

    def cluster_config(self) -> dict[str, Any]:
        return _json_object(self.request("GET", "/v1/cluster", params={"what": "config"}))

    def set_cluster_config(self, items: Mapping[str, str]) -> dict[str, Any]:
        return _json_object(
            self.request("PUT", "/v1/cluster/set-config", params=list(items.items()))
        )

    # ---- buckets ------------------------------------------------------------------

    def list_buckets(self) -> list[dict[str, Any]]:
        resp = self.request("GET", "/v1/buckets", action="list", params={"provider": "ais"})
        data = resp.json()
        if not isinstance(data, list):
            raise NativeError(resp.status_code, f"{resp.request.url}: expected a JSON list")
        return data

    def create_bucket(self, bucket: str, props: Mapping[str, Any] | None = None) -> None:
        self.request(
            "POST",
            self._bck_path(bucket),
            action="create-bck",
            value=unflatten(props) if props else None,
            params={"provider": "ais"},
        )

    def destroy_bucket(self, bucket: str) -> None:
        self.request(
            "DELETE", self._bck_path(bucket), action="destroy-bck", params={"provider": "ais"}
        )

    def bucket_props(self, bucket: str) -> dict[str, Any]:
        resp = self.request("HEAD", self._bck_path(bucket), params={"provider": "ais"})
        props = json.loads(resp.headers.get("ais-bucket-props") or "{}")
        if not isinstance(props, dict):
            raise NativeError(resp.status_code, "ais-bucket-props: expected a JSON object")
        return props

    def set_bucket_props(self, bucket: str, flat: Mapping[str, Any]) -> dict[str, Any]:
        return _json_object(self.request(
            "PATCH",
            self._bck_path(bucket),
            action="set-bprops",
            value=unflatten(flat),
            params={"provider": "ais"},
        ))

    def reset_bucket_props(self, bucket: str) -> dict[str, Any]:
        return _json_object(self.request(
            "PATCH", self._bck_path(bucket), action="reset-bprops", params={"provider": "ais"}
        ))

    def make_n_copies(self, bucket: str, copies: int) -> str:
        return self.request(
            "POST",
            self._bck_path(bucket),
            action="make-n-copies",
            value=copies,
            params={"provider": "ais"},
        ).text

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        page_size: int = 0,
        token: str = "",
        uuid: str = "",
        props: str = "",
        flags: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        value = {
            "prefix": prefix,
            "pagesize": page_size,
            "uuid": uuid,
            "props": props,
            "continuation_token": token,
            "flags": str(flags),
            "target": "",
        }
        return _json_object(self.request(
            "GET", self._bck_path(bucket), action="list", value=value,
            params={"provider": "ais"}, headers=headers,
        ))

    def iter_objects(
        self,
        bucket: str,
        prefix: str = "",
        page_size: int = 0,
        props: str = "",
        flags: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        token = uuid = ""
        while True:
            page = self.list_page(bucket, prefix, page_size, token, uuid, props, flags,
                                  headers)
            yield from page.get("entries") or []
            token = page.get("continuation_token") or ""
            uuid = page.get("uuid") or ""
            if not token:
                return

    # ---- objects ------------------------------------------------------------------

    def put_object(
        self,
        bucket: str,
        key: str,
        data: bytes | IO[bytes] | Iterable[bytes],
        size: int | None = None,
        custom: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        headers: dict[str, str] = {"content-type": "application/octet-stream"}
        if size is not None:
            headers["content-length"] = str(size)
        if custom:
            headers[CUSTOM_MD_HEADER] = encode_custom_md(custom)
        resp = self.request(
            "PUT", self._obj_path(bucket, key), params={"provider": "ais"},
            headers=headers, content=data,
        )
        return dict(resp.headers)

    @contextmanager
    def get_object(
        self, bucket: str, key: str, byte_range: str | None = None
    ) -> Iterator[httpx.Response]:
        headers = {"range": byte_range} if byte_range else {}
        req = self.http.build_request(
            "GET", self._obj_path(bucket, key), params={"provider": "ais"}, headers=headers
        )
        try:
            resp = self.http.send(req, stream=True)
        except httpx.HTTPError as e:
            raise NativeError(0, f"cannot reach {self.endpoint}: {e}") from None
        try:
            if resp.status_code >= 400:
                resp.read()
                raise NativeError(resp.status_code, _message(resp))
            yield resp
        finally:
            resp.close()

    def head_object(self, bucket: str, key: str, props: str = "") -> dict[str, str]:
        params = {"provider": "ais"}
        if props:
            params["props"] = props
        resp = self.request("HEAD", self._obj_path(bucket, key), params=params)
        return {k.lower(): v for k, v in resp.headers.items()}

    def delete_object(self, bucket: str, key: str) -> None:
        self.request("DELETE", self._obj_path(bucket, key), params={"provider": "ais"})

    def rename_object(self, bucket: str, key: str, new_key: str) -> None:
        self.request(
            "POST", self._obj_path(bucket, key), action="rename-obj", name=new_key,
            params={"provider": "ais"},
        )

    def metrics(self) -> str:
        return self.request("GET", "/metrics").text

    # ---- jobs (AIS xactions: prefetch, evict; docs/native-api.md) ------------------

    def prefetch(self, bucket: str, selection: Mapping[str, Any], *, latest: bool = False,
                 continue_on_error: bool = False) -> str:
        """Start a ``prefetch-listrange`` job (``selection``: ``{"objnames": [...]}`` or
        ``{"template": ...}``); its id."""
        value = {**selection, "latest-ver": latest, "coer": continue_on_error}
        return self.request("POST", self._bck_path(bucket), action="prefetch-listrange",
                            value=value, params={"provider": "ais"}).text

    def evict(self, bucket: str, selection: Mapping[str, Any]) -> str:
        """Start an ``evict-listrange`` job; its id."""
        return self.request("DELETE", self._bck_path(bucket), action="evict-listrange",
                            value=dict(selection), params={"provider": "ais"}).text

    def evict_bucket(self, bucket: str, keep_md: bool = True) -> str:
        """Start an ``evict-remote-bck`` job (every cached object); its id."""
        return self.request("DELETE", self._bck_path(bucket), action="evict-remote-bck",
                            params={"provider": "ais",
                                    "keep_bck_md": "true" if keep_md else "false"}).text

    def jobs(self, job_id: str = "", kind: str = "", running: bool = False
             ) -> list[dict[str, Any]]:
        """The node's job records, newest first (``what=jobs``)."""
        args = {"ID": job_id, "Kind": kind, "show_active": running}
        resp = self.request("GET", "/v1/cluster", params={"what": "jobs"},
                            content=json.dumps(args).encode(),
                            headers={"content-type": "application/json"})
        jobs = _json_object(resp).get("jobs")
        return list(jobs) if isinstance(jobs, list) else []

    def stop_job(self, job_id: str = "", kind: str = "") -> None:
        self.request("PUT", "/v1/cluster", action="stop", value={"ID": job_id, "Kind": kind})
