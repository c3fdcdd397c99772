"""Status files and leases at a step's output path, and whether a step is done."""
