"""What the machine did while a row's steps were timed: energy (energy.py) and clocks (clocks.py), read in the worker
around the timed steps by a window (window.py)."""
