#!/usr/bin/env python3
"""Command line of the city-governance simulator. See ``python run.py --help``."""

import sys

if sys.version_info < (3, 12):  # noqa: UP036 - a friendly message on the 3.11 default python3
    sys.exit("error: run.py needs Python >= 3.12 (Mesa 3.5); use `make run` or .venv/bin/python")

from sim.cli import end_process, main

if __name__ == "__main__":
    end_process(main())
