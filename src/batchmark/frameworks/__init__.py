"""The frameworks batchmark can drive, and how to tell whether one is installed without importing it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata

from batchmark.workloads.registry import unknown


@dataclass(frozen=True)
class Framework:
    name: str
    distribution: str  # the pip distribution whose presence means "installed"
    backend: str  # "module:Class", imported only inside a worker process
    install: str  # the command that installs it, shown when it is missing


FRAMEWORKS = {
    "torch": Framework("torch", "torch", "batchmark.frameworks.torch_backend:TorchBackend",
                       "pip install -c constraints.txt -e '.[torch]'"),
}


def get_framework(name: str) -> Framework:
    if name not in FRAMEWORKS:
        raise unknown("framework", name, list(FRAMEWORKS))
    return FRAMEWORKS[name]


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(get_framework(name).distribution)
    except metadata.PackageNotFoundError:
        return None


def load_backend(name: str):
    module_name, class_name = get_framework(name).backend.split(":")
    return getattr(importlib.import_module(module_name), class_name)()
