"""The city model: Mesa agents, the organisation (structure), the request catalogue, demand,
route planning and service-time distributions. Knows nothing of files, plots or executors.
"""
