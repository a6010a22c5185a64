"""The most FLOP/s a claimed piece of hardware can do: the physical bound every submitted row is checked against.

The machine fingerprint is a claim like any other part of a submission, so every figure here is generous (the
fastest clock any CPU ships with, every logical core its own FMA units, a matrix engine wherever one might
be) and capped by the fastest device anyone sells. A row faster than this did not happen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from batchmark.machine import CpuFingerprint, Fingerprint

# The fastest single device known: NVIDIA's GB200 NVL72 datasheet gives 360 PFLOPS of FP16/BF16 Tensor Core
# throughput *with sparsity* for 72 Blackwell GPUs, i.e. 2.5 PFLOP/s dense per GPU, the form training uses.
# No fp32, tf32, bf16 or fp16 training step on one device of any vendor can exceed it.
FASTEST_KNOWN_FLOPS_PER_SECOND = 2.5e15
# The highest clock a CPU ships with: Intel's Core i9-14900KS boosts one core to 6.2 GHz. The fingerprint has no
# clock, and a base clock in a model name ("@ 1.60GHz") is below the turbo the run may have had.
FASTEST_CPU_CLOCK_HZ = 6.2e9
# An 8-socket server of 60-core Xeons with two threads a core has 960 logical CPUs; a claim above this is capped.
MOST_LOGICAL_CORES = 2048

# FLOPs per cycle per core (2 per fused multiply-add, every FMA port busy), by the CPU feature that allows them:
# the fastest the precision can use on a core with that feature, from the vendors' optimisation manuals.
AVX2_FP32 = 2 * 8 * 2  # two 256-bit FMA ports, 8 fp32 lanes each
AVX512_FP32 = 2 * 16 * 2  # two 512-bit FMA ports
AVX512_HALF = 2 * AVX512_FP32  # VDPBF16PS / AVX512-FP16: two 16-bit products per fp32 lane
AMX_HALF = 1024 * 2  # Intel AMX: 1024 bf16 (or fp16 on AMX-FP16) multiply-adds per cycle per core
# Arm cores (Apple's included) may hand matmuls to a matrix coprocessor (Apple AMX, SME) that the fingerprint's
# flags do not show; Apple's M4 reaches about 2 TFLOP/s fp32 on four cores at 4.4 GHz, ~115 FLOPs a cycle a core.
ARM_FP32 = 256
ARM_HALF = 512


def cpu_flops_per_cycle(cpu: CpuFingerprint, precision: str) -> int:
    """The most one core may do per cycle in `precision`; unknown features get the most any core does."""
    flags = set(cpu.flags)
    half = precision in ("bf16", "fp16")
    arch = (cpu.arch or "").lower()
    if arch in ("aarch64", "arm64") or flags & {"asimd", "sve"}:
        return ARM_HALF if half else ARM_FP32
    if half and flags & {"amx_tile", "amx_bf16"}:
        return AMX_HALF
    if "avx512f" in flags:
        return AVX512_HALF if half and flags & {"avx512_bf16", "avx512_fp16"} else AVX512_FP32
    if flags & {"avx2", "fma"}:
        return AVX2_FP32  # bf16 and fp16 are converted to fp32 to be multiplied here
    return AMX_HALF  # nothing known: the fastest x86 core


def claimed_cores(cpu: CpuFingerprint) -> int | None:
    """The most cores the fingerprint claims, capped; None when it claims no count."""
    cores = max((count for count in (cpu.logical_cores, cpu.physical_cores, cpu.usable_cores) if count), default=None)
    return None if cores is None else min(cores, MOST_LOGICAL_CORES)


@dataclass(frozen=True)
class GpuPeaks:
    """Dense (no sparsity) peak FLOP/s from the vendor's datasheet; the fastest variant of the family."""

    fp32: float
    tf32: float
    bf16: float
    fp16: float


T = 1e12
# Matched against the fingerprint's GPU name (nvidia-smi's, e.g. "NVIDIA H100 80GB HBM3"), first match wins.
# Datasheets give tensor-core peaks "with sparsity": the dense figure, which training uses, is half of it.
GPU_PEAKS: tuple[tuple[re.Pattern, GpuPeaks], ...] = tuple((re.compile(pattern, re.IGNORECASE), peaks) for pattern, peaks in (
    # H100 SXM datasheet (nvidia.com/en-us/data-center/h100): FP32 67 TF, TF32 989 TF*, BF16/FP16 1,979 TF*
    # (*with sparsity). H200 SXM (nvidia.com/en-us/data-center/h200) and GH200 give the same figures.
    (r"\b(H100|H200|GH200|H800|H20)\b", GpuPeaks(fp32=67 * T, tf32=494.5 * T, bf16=989.5 * T, fp16=989.5 * T)),
    # A100 80GB datasheet (nvidia.com/en-us/data-center/a100): FP32 19.5 TF, TF32 156 TF, BF16/FP16 312 TF dense.
    (r"\b(A100|A800)\b", GpuPeaks(fp32=19.5 * T, tf32=156 * T, bf16=312 * T, fp16=312 * T)),
    # L40S datasheet: FP32 91.6 TF, TF32 366 TF*, BF16/FP16 733 TF*.
    (r"\bL40S\b", GpuPeaks(fp32=91.6 * T, tf32=183 * T, bf16=366.5 * T, fp16=366.5 * T)),
    # L40 datasheet: FP32 90.5 TF, TF32 181 TF*, BF16/FP16 362 TF*.
    (r"\bL40\b", GpuPeaks(fp32=90.5 * T, tf32=90.5 * T, bf16=181 * T, fp16=181 * T)),
    # L4 datasheet (nvidia.com/en-us/data-center/l4): FP32 30.3 TF, TF32 120 TF*, BF16/FP16 242 TF*.
    (r"\bL4\b", GpuPeaks(fp32=30.3 * T, tf32=60 * T, bf16=121 * T, fp16=121 * T)),
    # A10 datasheet: FP32 31.2 TF, TF32 62.5 TF (125 TF*), BF16/FP16 125 TF (250 TF*).
    (r"\bA10G?\b", GpuPeaks(fp32=35 * T, tf32=70 * T, bf16=125 * T, fp16=125 * T)),
    # Ada Lovelace whitepaper, RTX 4090: FP32 82.6 TF; tensor FP16 with FP16 accumulate 330.3 TF, BF16 165.2 TF,
    # TF32 82.6 TF (dense).
    (r"RTX 4090", GpuPeaks(fp32=82.6 * T, tf32=82.6 * T, bf16=165.2 * T, fp16=330.3 * T)),
    # Ampere GA102 whitepaper, RTX 3090: FP32 35.6 TF; tensor FP16 with FP16 accumulate 142 TF, BF16 71 TF,
    # TF32 35.6 TF (dense).
    (r"RTX 3090", GpuPeaks(fp32=35.6 * T, tf32=35.6 * T, bf16=71 * T, fp16=142 * T)),
    # V100 SXM2 datasheet: FP32 15.7 TF, tensor (FP16) 125 TF; no TF32 or BF16 units (those run as fp32 or
    # emulated, at most the tensor rate).
    (r"\bV100\b", GpuPeaks(fp32=15.7 * T, tf32=15.7 * T, bf16=125 * T, fp16=125 * T)),
    # T4 datasheet: FP32 8.1 TF, mixed-precision FP16 65 TF.
    (r"\bT4\b", GpuPeaks(fp32=8.1 * T, tf32=8.1 * T, bf16=65 * T, fp16=65 * T)),
))


def gpu_bound(name: str | None, precision: str) -> float | None:
    """The datasheet peak of a known GPU; None for one this table does not know. An fp32 plan may use TF32
    tensor cores without saying so (TensorFlow does by default on Ampere and later), so fp32 gets the TF32 peak."""
    for pattern, peaks in GPU_PEAKS:
        if name and pattern.search(name):
            return max(peaks.fp32, peaks.tf32) if precision == "fp32" else getattr(peaks, precision, peaks.fp16)
    return None


@dataclass(frozen=True)
class Bound:
    flops_per_second: float
    hardware: str  # what the bound is of, for the refusal's sentence


FASTEST_KNOWN = Bound(FASTEST_KNOWN_FLOPS_PER_SECOND, "the fastest known device")


def hardware_bound(machine: Fingerprint, device: str, precision: str) -> Bound:
    """The most FLOP/s `machine` can do on `device` in `precision`; the fastest known device where it claims
    hardware this table cannot bound (an unknown GPU, an Apple GPU, no core count)."""
    if device == "cpu":
        cores, per_cycle = claimed_cores(machine.cpu), cpu_flops_per_cycle(machine.cpu, precision)
        found = None if cores is None else Bound(
            cores * per_cycle * FASTEST_CPU_CLOCK_HZ,
            f"{cores} CPU cores at {FASTEST_CPU_CLOCK_HZ / 1e9:g} GHz doing {per_cycle} {precision} FLOPs a cycle each")
    else:
        names = [gpu.name for gpu in machine.gpus if gpu.kind == device]
        peaks = [gpu_bound(name, precision) for name in names]
        found = None
        if names and None not in peaks:  # one unknown GPU could be the fast one
            best = max(range(len(names)), key=lambda index: peaks[index])
            found = Bound(peaks[best], f"an {names[best]}'s datasheet {precision} peak")
    if found is None or found.flops_per_second > FASTEST_KNOWN.flops_per_second:
        return FASTEST_KNOWN
    return found
