"""The S3 facade: requests decoded by ``aisfs.s3`` (sans-IO), answered from the store."""
