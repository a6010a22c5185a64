"""batchmark: seconds per training batch, honestly timed, for any machine, framework and device."""

from batchmark.version import __version__


def __getattr__(name: str):
    # `batchmark.accelerate` imports torch: only when asked for, so that the CLI and `import batchmark` stay instant.
    if name == "accelerate":
        from batchmark.accelerate import accelerate

        return accelerate
    raise AttributeError(f"module 'batchmark' has no attribute {name!r}")
