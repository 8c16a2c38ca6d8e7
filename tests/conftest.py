"""Shared by unit and integration tests: this folder is on sys.path, so ``golden.streams`` (the
golden streams both suites replay) is importable from any test module."""
