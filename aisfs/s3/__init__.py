"""Sans-IO S3 protocol code: no trio, no sockets, no files.

Modules (import them directly; nothing is re-exported here):

- ``request``    method/raw path/query/Host/headers -> ``S3Request`` (operation, bucket, key)
- ``names``      bucket and key rules
- ``sigv4``      SigV4 verification: header, presigned query, streaming chunk chain
- ``chunked``    aws-chunked decoder (feed bytes, get ``ChunkData``/``Trailers``/``EndOfBody``)
- ``checksums``  MD5, CRC32/CRC32C/CRC64NVME, SHA1/SHA256 behind one incremental interface
- ``ranges``     ``Range`` -> inclusive byte span
- ``conditions`` ``If-*`` and ``x-amz-copy-source-if-*`` -> proceed, 304 or 412
- ``xml``        response documents; request bodies parsed with defusedxml

Every client mistake is an ``aisfs.errors.S3Error``.
"""
