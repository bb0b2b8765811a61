"""Many runs: the one-run API, executors (local pool or Dask), batches, sweep designs, Sobol
sensitivity, reform attribution and validation against the reference facts.
"""
