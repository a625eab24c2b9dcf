"""Sans-IO S3 protocol code: no trio, no sockets, no files.

Modules (import them directly; nothing is re-exported here):

- ``request``    method/raw path/query/Host/headers -> ``S3Request`` (operation, bucket, key)
- ``names``      bucket and key rules
- ``sigv4``      SigV4 verification: header and presigned query
- ``sigv4_chunks`` the streaming (aws-chunked) signature chain
- ``sigv2``      SigV2 verification: header and presigned query
- ``signing_keys`` a key's secret and the derived SigV4 signing keys (cached)
- ``request_time`` ``x-amz-date``/``Date``/``Expires`` and the 15-minute skew rule
- ``signed_headers`` which headers a signature must cover
- ``chunked``    aws-chunked decoder (feed bytes, get ``ChunkData``/``Trailers``/``EndOfBody``)
- ``checksums``  MD5, CRC32/CRC32C/CRC64NVME, SHA1/SHA256 behind one incremental interface
- ``ranges``     ``Range`` -> inclusive byte span
- ``conditions`` ``If-*`` and ``x-amz-copy-source-if-*`` -> proceed, 304 or 412
- ``refusals``   what the node does not implement (501) and bad override values (400)
- ``cors``       bucket CORS rules and their match against a request
- ``lifecycle``  bucket lifecycle rules: parsed, matched, expiry dates
- ``object_lock`` object lock: bucket config, a version's lock, the write headers, and
                 the removal and retention-change decisions
- ``post_form``  multipart/form-data of a browser POST upload, streamed
- ``post_policy`` a POST upload's policy document, conditions and signature
- ``xml``        the package of response documents; request bodies parsed with defusedxml

Every client mistake is an ``aisfs.errors.S3Error``.
"""
