"""What a run produces: KPIs computed from the request log, result files written atomically,
and the summary statistics (confidence intervals) every layer above reports.
"""
