"""Drive a compiled plan: the command line, dry-run classification, scheduling and the run report."""
