"""The aisfs node daemon: S3 facade and native API over the store."""
