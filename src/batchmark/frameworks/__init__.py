"""The frameworks batchmark can drive, and how to tell whether one is installed without importing it."""

from __future__ import annotations

import importlib
import resource
import sys
from dataclasses import dataclass
from importlib import metadata

from batchmark.errors import unknown


@dataclass(frozen=True)
class Framework:
    name: str
    distributions: tuple[str, ...]  # pip distributions, any of which provides the framework
    requires: tuple[str, ...]  # further distributions it needs to run batchmark's models (Keras)
    backend: str  # "module:Class", imported only inside a worker process
    install: str  # the command that installs it, shown when it is missing


FRAMEWORKS = {
    "torch": Framework("torch", ("torch",), (), "batchmark.frameworks.torch_backend:TorchBackend",
                       "pip install -c constraints.txt -e '.[torch]'"),
    # tensorflow-cpu on Linux, tensorflow on macOS (and on Linux for a GPU build).
    "tensorflow": Framework("tensorflow", ("tensorflow-cpu", "tensorflow", "tensorflow-macos"), ("keras",),
                            "batchmark.frameworks.tensorflow_backend:TensorFlowBackend",
                            "pip install -c constraints.txt -e '.[tensorflow]'"),
    "jax": Framework("jax", ("jax",), ("jaxlib", "keras"), "batchmark.frameworks.jax_backend:JaxBackend",
                     "pip install -c constraints.txt -e '.[jax]'"),
}


def get_framework(name: str) -> Framework:
    if name not in FRAMEWORKS:
        raise unknown("framework", name, list(FRAMEWORKS))
    return FRAMEWORKS[name]


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def installed_version(name: str) -> str | None:
    """The framework's version, or None unless it and everything batchmark needs beside it are installed."""
    framework = get_framework(name)
    if any(_version(required) is None for required in framework.requires):
        return None
    return next(filter(None, map(_version, framework.distributions)), None)


def load_backend(name: str):
    module_name, class_name = get_framework(name).backend.split(":")
    return getattr(importlib.import_module(module_name), class_name)()


@dataclass
class Prepared:
    """One (workload, plan) ready to time: what every backend's prepare() hands the worker."""

    session: object  # the engine's Session: step, synchronize, read_loss
    device: object  # description() and peak_memory()
    workload: str
    image_size: int


def process_peak_rss() -> tuple[int, str]:
    """Peak memory of a CPU run: ru_maxrss covers the whole worker process (KiB on Linux, bytes on macOS)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale, "process peak RSS"
