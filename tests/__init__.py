"""Test suite (a package, so `tests.conftest` never resolves to another distribution's `tests`)."""
