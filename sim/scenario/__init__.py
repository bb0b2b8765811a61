"""Scenario in: the schema of keys, reading files (``extends``, defaults, validation) and reforms.

Knows nothing of the model that will be built from the dict it returns.
"""
