"""The machine's achievable peak in PyTorch: the best FLOP/s of a large matmul and of a ResNet-style 3x3
convolution, per device and precision. Run in its own process: `python -m batchmark.frameworks.torch_peak OUT.json`.

The operations go through the same paths the workloads use: torch.matmul (MKL/oneDNN on CPU, cuBLAS on
CUDA) and torch's conv2d in channels_last (oneDNN on CPU, cuDNN on CUDA). Each problem is grown until one
call takes long enough to time (a dtype without hardware support stays small, so calibrating never takes
minutes), then the best of several trials is kept: a peak is what the hardware *can* do.
"""

from __future__ import annotations

import sys
import time

import torch

from batchmark.frameworks.peak_timing import best_rate, grow, peak, write_peaks
from batchmark.frameworks.torch_backend import TorchDevice, available_devices, set_float32_math
from batchmark.plans import Plan

DTYPES = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
MAX_MATMUL = 8192
MAX_CONV_BATCH = 256


def precisions_of(device) -> list[str]:
    """Every precision a plan can ask of this device, fast in hardware or not: the calibration shows which is."""
    names = ["fp32", "bf16"]
    if device.fp16 or device.name != "cpu":
        names.append("fp16")
    if device.tf32:
        names.append("tf32")
    return names


def matmul_peak(device: TorchDevice, dtype: torch.dtype) -> tuple[str, tuple[float, float]]:
    def make(n):
        a = torch.randn(n, n, device=device.torch_device).to(dtype)
        b = torch.randn(n, n, device=device.torch_device).to(dtype)
        return (lambda: torch.matmul(a, b)), 2.0 * n ** 3

    sizes = [256 * 2 ** k for k in range(6) if 256 * 2 ** k <= MAX_MATMUL]
    n, call, flops = grow(make, sizes, device.synchronize)
    return f"matmul {n}x{n}", best_rate(call, flops, device.synchronize)


def conv_peak(device: TorchDevice, dtype: torch.dtype) -> tuple[str, tuple[float, float]]:
    # ResNet50's stage-2 3x3 convolution: 128 -> 128 channels at 28x28, stride 1, NHWC.
    channels, size = 128, 28

    def make(batch):
        x = torch.randn(batch, channels, size, size, device=device.torch_device).to(dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        weight = torch.randn(channels, channels, 3, 3, device=device.torch_device).to(dtype)
        weight = weight.contiguous(memory_format=torch.channels_last)
        flops = 2.0 * batch * size * size * channels * channels * 9
        return (lambda: torch.nn.functional.conv2d(x, weight, padding=1)), flops

    sizes = [2 ** k for k in range(9) if 2 ** k <= MAX_CONV_BATCH]
    batch, call, flops = grow(make, sizes, device.synchronize)
    return (f"conv3x3 {channels}->{channels} {size}x{size} batch {batch} channels_last",
            best_rate(call, flops, device.synchronize))


def measure_peaks() -> list[dict]:
    peaks = []
    for support in available_devices():
        device = TorchDevice(support.name)
        for precision in precisions_of(support):
            set_float32_math(Plan(device=support.name, precision=precision))
            by_operation, spreads = {}, []
            for measure in (matmul_peak, conv_peak):
                try:
                    name, (rate, spread) = measure(device, DTYPES[precision])
                except (RuntimeError, NotImplementedError) as error:  # a dtype a device's kernels lack
                    print(f"{support.name} {precision} {measure.__name__}: {error}", file=sys.stderr)
                    continue
                by_operation[name] = rate
                spreads.append(spread)
            if by_operation:
                peaks.append(peak(support.name, precision, by_operation, spreads))
    return peaks


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    write_peaks(argv[1], torch.__version__, measure_peaks(), start)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
