"""Server-side encryption, sans-IO (issue 16, item 6): what an encrypted object's bytes
and records are, without any knowledge of HTTP servers or of the store.

- :mod:`aisfs.crypto.ctr`       AES-256-CTR as a stream transform that can start at any
                                byte offset and cross a multipart object's parts
- :mod:`aisfs.crypto.keys`      the node's master key (a file, mode 0600, made on first
                                use), data keys wrapped with AES-GCM, SSE-C key checks
- :mod:`aisfs.crypto.envelope`  what an encrypted object keeps beside its bytes (the
                                ``"sse"`` entry of ``ObjectMeta.extra``)
- :mod:`aisfs.crypto.headers`   the SSE request headers parsed and checked, AWS's errors

docs/encryption.md says why it is built this way.
"""
