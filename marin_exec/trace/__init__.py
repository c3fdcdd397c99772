"""Front end: run user code under a tracing context and record the step graph (no hashing, no I/O)."""
