"""batchmark: seconds per training batch, honestly timed, for any machine, framework and device."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `batchmark.accelerate` imports torch: only when asked for, so that the CLI and `import batchmark` stay instant.
    if name == "accelerate":
        from batchmark.accelerate import accelerate

        return accelerate
    raise AttributeError(f"module 'batchmark' has no attribute {name!r}")
