"""Atomic stores behind ``store_for(path)``: local, memory, GCS and S3, plus the artifact format on top."""
