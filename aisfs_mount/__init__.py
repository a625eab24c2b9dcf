"""aisfs mount: buckets as directories through FUSE."""
