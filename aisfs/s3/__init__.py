"""Sans-IO S3 protocol code: no trio, no sockets, no files."""
