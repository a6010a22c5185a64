"""batchmark: seconds per training batch, honestly timed, for any machine, framework and device."""

__version__ = "0.1.0"
