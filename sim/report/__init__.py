"""Showing results: figure data read from a batch folder, the figures, the self-contained HTML
report and the terminal tables.
"""
