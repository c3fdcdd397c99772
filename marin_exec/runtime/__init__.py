"""The primitives one step runs through: its job, disk_cached, distributed_lock, commit, heartbeat and remote."""
