"""The queueing core: working calendars, the visit plan format, the reference loop and the
compiled kernel that times every visit through multi-server FCFS units.

The lowest simulation layer: it knows queues and clocks, not residents, reforms or files.
"""
