"""User code for tests/test_remote.py and tests/test_remote_steps.py: plain functions, no marin_exec."""
