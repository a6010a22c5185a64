"""The frameworks batchmark can drive: one record each, with everything the layers above need to know of it
(its compile switch, its plain defaults, which workloads package builds its models), and how to tell whether
one is installed without importing it. Adding a framework is a record here, a backend module beside this one,
and its models under `batchmark/workloads/<family>/`."""

from __future__ import annotations

import importlib
import resource
import sys
from dataclasses import dataclass
from importlib import metadata

from batchmark.errors import unknown
from batchmark.machine import record_versions_of


@dataclass(frozen=True)
class Framework:
    name: str
    distributions: tuple[str, ...]  # pip distributions, any of which provides the framework
    requires: tuple[str, ...]  # further distributions it needs to run batchmark's models (Keras)
    backend: str  # "module:Class", imported only inside a worker process
    install: str  # the command that installs it, shown when it is missing
    family: str  # the package under batchmark/workloads/ whose models it runs (Keras 3 serves two backends)
    compile_modes: tuple[str, ...]  # what its compile switch accepts
    compiled: str  # what "compiled" means in the static accelerated plan
    tuner_compile_modes: tuple[str, ...]  # the compile modes the tuner tries on the best eager plan
    # What a user gets without asking: the compile mode on a CPU, and on a GPU its compiler supports.
    plain_compile: str
    plain_compile_on_accelerator: str
    nhwc_only: bool  # batchmark's models for it are NHWC (channels_last) only
    # Switches the tuner may try: a per-plan thread count (JAX fixes its thread pool at start-up), and TF32 as a
    # per-plan precision (TensorFlow's and JAX's switch is global: batchmark's Keras plans keep fp32 exact).
    threads_switch: bool = True
    tf32_switch: bool = True
    # A step that may take minutes (MLX on a Linux CPU with its bundled reference BLAS): the worker stops a row
    # whose steps cannot fit its time limit and reports the speed it measured, instead of being killed silently.
    minutes_per_step: bool = False


FRAMEWORKS = {
    "torch": Framework(
        "torch", ("torch",), (), "batchmark.frameworks.torch_backend:TorchBackend",
        "pip install -c constraints.txt -e '.[torch]'", family="torch",
        compile_modes=("off", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"),
        compiled="default", tuner_compile_modes=("default", "max-autotune"),
        plain_compile="off", plain_compile_on_accelerator="off", nhwc_only=False),
    # tensorflow-cpu on Linux, tensorflow on macOS (and on Linux for a GPU build). "off" is a plain tf.function
    # graph; Keras's jit_compile="auto" turns XLA on only where a GPU that XLA supports exists.
    "tensorflow": Framework(
        "tensorflow", ("tensorflow-cpu", "tensorflow", "tensorflow-macos"), ("keras",),
        "batchmark.frameworks.tensorflow_backend:TensorFlowBackend", "pip install -c constraints.txt -e '.[tensorflow]'",
        family="keras", compile_modes=("off", "xla"), compiled="xla", tuner_compile_modes=("xla",),
        plain_compile="off", plain_compile_on_accelerator="xla", nhwc_only=True, tf32_switch=False),
    # JAX has no graph mode without XLA: Keras's JAX trainer always jits, so there is no eager plan to compare.
    "jax": Framework(
        "jax", ("jax",), ("jaxlib", "keras"), "batchmark.frameworks.jax_backend:JaxBackend",
        "pip install -c constraints.txt -e '.[jax]'", family="keras", compile_modes=("xla",), compiled="xla",
        tuner_compile_modes=(), plain_compile="xla", plain_compile_on_accelerator="xla", nhwc_only=True,
        threads_switch=False, tf32_switch=False),
    # Apple's MLX: Metal on a Mac; on Linux, mlx[cpu] installs its CPU backend (no GPU). MLX is channels-last and
    # eager (lazy, evaluated per step) unless mx.compile wraps the step: "default" is mx.compile as its own
    # examples call it.
    "mlx": Framework(
        "mlx", ("mlx",), (), "batchmark.frameworks.mlx_backend:MlxBackend",
        "pip install -c constraints.txt -e '.[mlx]'", family="mlx", compile_modes=("off", "default"),
        compiled="default", tuner_compile_modes=("default",), plain_compile="off", plain_compile_on_accelerator="off",
        nhwc_only=True, threads_switch=False, tf32_switch=False, minutes_per_step=True),
}
# Every compile mode any framework accepts, for parsing `--plan compile=...` before the framework is known.
COMPILE_MODES = tuple(dict.fromkeys(mode for framework in FRAMEWORKS.values() for mode in framework.compile_modes))
for _framework in FRAMEWORKS.values():  # the fingerprint records the version of each
    record_versions_of(*_framework.distributions, *_framework.requires)


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
