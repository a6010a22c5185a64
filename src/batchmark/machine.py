"""This machine's fingerprint: what a result was measured on, read without importing any framework."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated, Optional

import psutil
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from batchmark.version import __version__

# Flags that change which kernels a framework can use; the rest of /proc/cpuinfo is noise here.
CPU_FLAGS_OF_INTEREST = (
    "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
    "asimd", "sve", "bf16",
)
# Variables that cap the instruction sets the frameworks' kernels may use (oneDNN's, ATen's vectorized kernels',
# MKL's). A run under ONEDNN_MAX_CPU_ISA=AVX2 on an AVX-512 CPU measures what an AVX2 CPU's kernels do here: its
# peaks and tuned plans are another machine's, and its fingerprint says so.
ISA_LIMIT_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")
# oneDNN's instruction sets without bf16 arithmetic (AVX2_VNNI_2 converts bf16, it does not multiply it): a cap at
# one of them leaves PyTorch's and TensorFlow's bf16 convolutions and matmuls without hardware support.
ONEDNN_ISAS_WITHOUT_BF16 = frozenset({"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
                                      "AVX512_CORE_VNNI"})
LimitText = Annotated[str, StringConstraints(max_length=64)]
# The distributions whose versions the fingerprint records: each framework's (batchmark.frameworks registers
# them when it is imported, as every caller of fingerprint() has it).
RECORDED_DISTRIBUTIONS: list[str] = []
INT32 = 2**31 - 1
INT64 = 2**63 - 1


class _Open(BaseModel):
    # A newer batchmark may record more; it is kept as read. Every field is optional so that a fingerprint
    # written by any earlier version still loads.
    # defer_build: validators are built on first use, not at import, which `batchmark list` would pay for.
    model_config = ConfigDict(extra="allow", defer_build=True)


class CpuFingerprint(_Open):
    model: Optional[str] = None
    arch: Optional[str] = None
    flags: list[str] = Field(default_factory=list)  # only CPU_FLAGS_OF_INTEREST
    physical_cores: Optional[int] = Field(None, ge=0, le=INT32)
    logical_cores: Optional[int] = Field(None, ge=0, le=INT32)
    usable_cores: Optional[int] = Field(None, ge=0, le=INT32)  # this process's CPU affinity


class GpuFingerprint(_Open):
    kind: Optional[str] = None  # "cuda" or "mps"
    name: Optional[str] = None
    driver: Optional[str] = None
    memory: Optional[str] = None  # as the driver writes it, e.g. "81559 MiB"
    compute_capability: Optional[str] = None


class OsFingerprint(_Open):
    system: Optional[str] = None
    release: Optional[str] = None
    platform: Optional[str] = None


class Fingerprint(_Open):
    """What a result was measured on. Hardware and software together: what identifies a machine is the
    hardware part (`store.convert.hardware_of`); the software is kept per run, so that a compare can show it."""

    hostname: Optional[str] = None
    cpu: CpuFingerprint = Field(default_factory=CpuFingerprint)
    memory_bytes: Optional[int] = Field(None, ge=0, le=INT64)
    gpus: list[GpuFingerprint] = Field(default_factory=list)
    os: OsFingerprint = Field(default_factory=OsFingerprint)
    python: Optional[str] = None
    frameworks: dict[str, Optional[str]] = Field(default_factory=dict)
    batchmark: Optional[str] = None
    # ISA_LIMIT_VARIABLES that were set, with their values; empty when the kernels may use the whole CPU.
    isa_limits: dict[LimitText, LimitText] = Field(default_factory=dict, max_length=len(ISA_LIMIT_VARIABLES))


def _linux_cpu() -> tuple[str, set[str]] | None:
    """Model and flags straight from /proc/cpuinfo: instant, where py-cpuinfo spends ~1 s in a subprocess."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    if "flags" not in fields and "Features" not in fields:
        return None
    return fields.get("model name", "unknown"), set(fields.get("flags", fields.get("Features", "")).split())


@functools.cache
def cpu_info() -> CpuFingerprint:
    linux = _linux_cpu()
    if linux is not None:
        model, flags = linux
    else:
        import cpuinfo  # py-cpuinfo: portable, but slow, so only where /proc/cpuinfo is missing

        info = cpuinfo.get_cpu_info()
        model, flags = info.get("brand_raw") or platform.processor() or "unknown", set(info.get("flags", []))
    return CpuFingerprint(
        model=model,
        arch=platform.machine(),
        flags=[flag for flag in CPU_FLAGS_OF_INTEREST if flag in flags],
        physical_cores=psutil.cpu_count(logical=False),
        logical_cores=psutil.cpu_count(logical=True),
        usable_cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else psutil.cpu_count(),
    )


def isa_limits() -> dict[str, str]:
    """The instruction-set caps set in this environment (ISA_LIMIT_VARIABLES), as name: value."""
    return {name: os.environ[name] for name in ISA_LIMIT_VARIABLES if os.environ.get(name)}


def describe_limits(limits: dict[str, str]) -> str:
    """Instruction-set caps as people set them: `ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2`."""
    return ", ".join(f"{name}={value}" for name, value in limits.items())


def cpu_has_fast_bf16() -> bool:
    """bf16 arithmetic in hardware: AVX-512 BF16 or AMX on x86, the BF16 extension on Arm; and not capped away by
    a oneDNN instruction-set limit below it."""
    flags = set(cpu_info().flags)
    limits = isa_limits()
    cap = limits.get("ONEDNN_MAX_CPU_ISA", limits.get("DNNL_MAX_CPU_ISA", "")).upper()
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"}) and cap not in ONEDNN_ISAS_WITHOUT_BF16


@functools.cache
def nvidia_gpus() -> list[GpuFingerprint]:
    """NVIDIA GPUs as the driver reports them; empty when there is no driver."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, driver, memory, capability = (part.strip() for part in line.split(","))
        gpus.append(GpuFingerprint(kind="cuda", name=name, driver=driver, memory=memory, compute_capability=capability))
    return gpus


def apple_gpu() -> list[GpuFingerprint]:
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return [GpuFingerprint(kind="mps", name=f"{cpu_info().model} GPU", driver=platform.mac_ver()[0])]
    return []


def record_versions_of(*distributions: str) -> None:
    RECORDED_DISTRIBUTIONS.extend(name for name in distributions if name not in RECORDED_DISTRIBUTIONS)


def framework_versions() -> dict[str, str | None]:
    versions = {}
    for name in RECORDED_DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def fingerprint() -> Fingerprint:
    return Fingerprint(
        hostname=socket.gethostname(),
        cpu=cpu_info(),
        memory_bytes=psutil.virtual_memory().total,
        gpus=nvidia_gpus() + apple_gpu(),
        os=OsFingerprint(system=platform.system(), release=platform.release(), platform=platform.platform()),
        python=platform.python_version(),
        frameworks=framework_versions(),
        batchmark=__version__,
        isa_limits=isa_limits(),
    )
