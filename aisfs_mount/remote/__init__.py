"""The mount's side of the wire: S3 (any endpoint) and our node's native API.

`s3.S3Backend` implements `aisfs_mount.backend.Backend` with plain S3 requests; `node.NodeBackend`
adds what our node does better. Below them: `transport` (httpx with deadlines and
retries), `fastpath` over `fastget` (raw keep-alive sockets for GET, PUT and DELETE),
`signer` (SigV4 through botocore), `s3xml` and `headers` (what S3 answers mean).
"""
