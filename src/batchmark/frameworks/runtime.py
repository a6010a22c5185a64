"""The environment a worker process starts with for a plan: runtime switches that must be set before the
framework loads (the allocator, OpenMP's policies, TensorFlow's oneDNN switch, MLX's BLAS).

Each is an environment variable because nothing later would take: the dynamic loader reads LD_PRELOAD when the
process starts, an OpenMP runtime reads OMP_* once, when it is loaded or first used, and TensorFlow reads
TF_ENABLE_ONEDNN_OPTS once, the first time its runtime asks (a call_once in IsMklEnabled). The parent sets them
when it spawns the worker; the worker checks they took (`not_in_effect`), so a row never claims a switch that
was not applied. Nothing here is required: a switch whose library is missing is reported with what to install.
"""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from pathlib import Path

from batchmark.plans import Plan

# Each allocator's shared library, the preferred name first: Debian/Ubuntu's libjemalloc2 and
# libtcmalloc-minimal4 (libgoogle-perftools4 brings the full libtcmalloc.so.4), Fedora's jemalloc and
# gperftools-libs. tcmalloc_minimal is the allocator without the heap profiler and its hooks.
ALLOCATOR_LIBRARIES = {
    "jemalloc": ("libjemalloc.so.2", "libjemalloc.so"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc.so.4", "libtcmalloc_minimal.so", "libtcmalloc.so"),
}
# What to install, as (Debian/Ubuntu package, Fedora package).
ALLOCATOR_PACKAGES = {"jemalloc": ("libjemalloc2", "jemalloc"), "tcmalloc": ("libtcmalloc-minimal4", "gperftools-libs")}
# MLX's BLAS (`blas=openblas`): Debian's pthreads OpenBLAS (libopenblas0-pthread), which registers itself in an
# openblas-pthread/ folder of the multiarch directory; preloaded, its cblas_* and LAPACK symbols take the place of
# the reference BLAS that the mlx[cpu] wheel bundles, with no change to MLX. (Fedora's `openblas` package has it.)
BLAS_LIBRARIES = {"openblas": ("openblas-pthread/libopenblas.so.0", "libopenblas.so.0")}
BLAS_PACKAGES = {"openblas": ("libopenblas0-pthread", "openblas")}
# Folders to look in instead of the system's, separated by os.pathsep: for a library installed elsewhere, and
# for the tests, which point it at an empty folder to see what a machine without the library does.
ALLOCATOR_DIRS_VARIABLE = "BATCHMARK_ALLOCATOR_DIRS"

# The frameworks each runtime switch means something to; check_plan refuses it for the others, and the server
# refuses a submitted plan that claims it. OpenMP: torch links GNU libgomp (the PyPI wheel bundles it; Intel's
# builds link libiomp5), while TensorFlow and JAX link no OpenMP runtime at all: their CPU kernels, oneDNN's
# included, run on Eigen thread pools, so OMP_* would change nothing there. The allocator applies to any process.
SWITCH_FRAMEWORKS = {
    "omp_wait": ("torch",),
    "omp_bind": ("torch",),
    "optimizer": ("torch",),
    "onednn": ("tensorflow",),
    "blas": ("mlx",),
}
WHY_NOT = {
    "omp_wait": "it links no OpenMP runtime (its CPU kernels run on Eigen thread pools)",
    "omp_bind": "it links no OpenMP runtime (its CPU kernels run on Eigen thread pools)",
    "optimizer": "it is PyTorch's torch.optim.Adam foreach/fused switch; Keras optimizers have none",
    "onednn": "it is TensorFlow's TF_ENABLE_ONEDNN_OPTS",
    "blas": "only MLX's CPU kernels call a BLAS that a preloaded one replaces (the others run MKL, oneDNN or Eigen)",
}
# TensorFlow's own oneDNN default on Linux (DefaultOneDnnPolicy in tensorflow/core/util/port.cc): on for CPUs
# with neural-network instructions, off on the rest (AVX2-only x86 included). Neoverse V1 also turns it on, which
# no /proc/cpuinfo flag tells; AVX_VNNI does, but the fingerprint's flags leave it out.
ONEDNN_DEFAULT_FLAGS = frozenset({"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"})


def inapplicable_switch(plan: Plan) -> str | None:
    """One line naming a runtime switch the plan's framework has no meaning for, or None."""
    for switch, value in plan.runtime_switches().items():
        frameworks = SWITCH_FRAMEWORKS.get(switch)
        if frameworks is not None and plan.framework not in frameworks:
            shown = str(value).lower() if isinstance(value, bool) else value
            return (f"plan switch {switch}={shown} does not exist in {plan.framework}: {WHY_NOT[switch]}. "
                    f"Allowed with: {', '.join(frameworks)}.")
    return None


def library_dirs() -> list[Path]:
    """Where the loader's usual search finds a distribution's libraries, this machine's multiarch folder first."""
    override = os.environ.get(ALLOCATOR_DIRS_VARIABLE)
    if override is not None:
        return [Path(folder) for folder in override.split(os.pathsep) if folder]
    # Debian's multiarch triplet as Python was built for it; "x86_64-linux-gnu" or "aarch64-linux-gnu".
    multiarch = sysconfig.get_config_var("MULTIARCH") or f"{platform.machine()}-linux-gnu"
    folders = ["/usr/local/lib", "/usr/local/lib64", f"/usr/lib/{multiarch}", f"/lib/{multiarch}", "/usr/lib64",
               "/lib64", "/usr/lib", f"{sys.prefix}/lib"]  # sys.prefix: a conda environment's own
    return [Path(folder) for folder in dict.fromkeys(folders)]


def _installed(libraries: dict[str, tuple[str, ...]]) -> dict[str, Path]:
    """{name: its shared library} for each of `libraries` installed here; LD_PRELOAD is Linux only."""
    if not sys.platform.startswith("linux"):
        return {}
    folders = library_dirs()
    found = {}
    for name, files in libraries.items():
        path = next((folder / file for file in files for folder in folders if (folder / file).is_file()), None)
        if path is not None:
            found[name] = path
    return found


def available_allocators() -> dict[str, Path]:
    """{allocator: its shared library} for each one installed here."""
    return _installed(ALLOCATOR_LIBRARIES)


def available_blas() -> dict[str, Path]:
    """{BLAS: its shared library} for each one MLX can be given here."""
    return _installed(BLAS_LIBRARIES)


def _unavailable(kind: str, name: str, found: dict[str, Path], packages: dict[str, tuple[str, str]]) -> str | None:
    if not sys.platform.startswith("linux"):
        return f"not available here: preloading {kind} (LD_PRELOAD) is Linux only"
    if name in found:
        return None
    debian, fedora = packages[name]
    return f"not available here: install {debian} (apt install {debian}, or dnf install {fedora})"


def allocator_unavailable(allocator: str) -> str | None:
    """Why an allocator cannot be used here, in one line, or None when it can."""
    if allocator == "system":
        return None
    return _unavailable("an allocator", allocator, available_allocators(), ALLOCATOR_PACKAGES)


def blas_unavailable(blas: str) -> str | None:
    """Why MLX cannot be given this BLAS here, in one line, or None when it can (its own always can)."""
    if blas == "bundled":
        return None
    return _unavailable("a BLAS", blas, available_blas(), BLAS_PACKAGES)


def runtime_unavailable(plan: Plan) -> str | None:
    """What the plan needs that this machine lacks, in one line ("allocator=jemalloc: not available here: …")."""
    if reason := allocator_unavailable(plan.allocator):
        return f"allocator={plan.allocator}: {reason}"
    if reason := blas_unavailable(plan.blas):
        return f"blas={plan.blas}: {reason}"
    return None


def preloaded_libraries(plan: Plan) -> dict[str, Path]:
    """{switch: the library the plan preloads for it}, for the switches whose library is installed here."""
    wanted = {"allocator": (plan.allocator, available_allocators()), "blas": (plan.blas, available_blas())}
    return {switch: found[name] for switch, (name, found) in wanted.items() if name in found}


def runtime_variables(plan: Plan) -> dict[str, str]:
    """The environment variables the plan's OpenMP and oneDNN switches set (none for a default switch)."""
    variables = {}
    if plan.omp_wait != "default":
        active = plan.omp_wait == "active"
        variables["OMP_WAIT_POLICY"] = plan.omp_wait.upper()
        # Both runtimes' own knobs as well, so that the plan means the same whichever runtime torch was built
        # with (GNU libgomp in the PyPI wheel, Intel's libiomp5 in Intel's builds; each ignores the other's
        # variable) and a GOMP_SPINCOUNT or KMP_BLOCKTIME the user exported cannot quietly contradict the plan.
        variables["GOMP_SPINCOUNT"] = "INFINITE" if active else "0"
        variables["KMP_BLOCKTIME"] = "infinite" if active else "0"
    if plan.omp_bind:
        variables["OMP_PROC_BIND"] = "close"
        variables["OMP_PLACES"] = "cores"
    if plan.onednn is not None:
        variables["TF_ENABLE_ONEDNN_OPTS"] = "1" if plan.onednn else "0"
    return variables


def worker_environment(plan: Plan) -> dict[str, str]:
    """The parent's environment with the plan's runtime switches applied."""
    environment = dict(os.environ)
    environment.update(runtime_variables(plan))
    libraries = [str(library) for library in preloaded_libraries(plan).values()]
    if libraries:  # a missing one is left out: the worker then reports it (`not_in_effect`)
        # Prepended: a library the user preloads already stays, after ours, whose symbols then win.
        environment["LD_PRELOAD"] = ":".join(filter(None, [*libraries, os.environ.get("LD_PRELOAD")]))
    return environment


def mapped_files() -> set[str]:
    """The files mapped into this process, from /proc/self/maps."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return set()
    fields = (line.split(maxsplit=5) for line in lines)  # address, perms, offset, dev, inode, path
    return {field[5] for field in fields if len(field) == 6 and field[5].startswith("/")}


def not_in_effect(plan: Plan) -> str | None:
    """In the worker, before the framework loads: why a runtime switch of the plan did not take, or None.

    A preloaded library (allocator, BLAS) must be mapped into this very process; the variables must hold the
    plan's values."""
    if (reason := runtime_unavailable(plan)) is not None:
        return reason
    mapped = {str(Path(path).resolve()) for path in mapped_files()}
    for switch, library in preloaded_libraries(plan).items():
        if str(library.resolve()) not in mapped:
            return (f"{switch}={getattr(plan, switch)}: {library.resolve()} is not loaded in the worker "
                    f"(LD_PRELOAD={os.environ.get('LD_PRELOAD', '')!r})")
    for name, value in runtime_variables(plan).items():
        if os.environ.get(name) != value:
            return f"{name}={value} is not set in the worker's environment"
    return None


def tensorflow_onednn_default(cpu_flags: set[str] | frozenset[str]) -> bool:
    """Whether TensorFlow turns oneDNN on by itself on a Linux CPU with these /proc/cpuinfo flags."""
    return sys.platform.startswith("linux") and bool(ONEDNN_DEFAULT_FLAGS & set(cpu_flags))
