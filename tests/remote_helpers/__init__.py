"""User code for tests/test_remote.py: plain functions that know nothing about marin_exec or tests."""
