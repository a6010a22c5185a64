"""MLX's achievable peak: the best FLOP/s of a large matmul and of a ResNet-style 3x3 convolution, per device and
precision, through MLX's own kernels. Run in its own process, with the plan's BLAS preloaded or not:
`python -m batchmark.frameworks.mlx_peak OUT.json`.

On a Linux CPU these calls go to the BLAS MLX links (its wheel's reference BLAS, or OpenBLAS with blas=openblas),
so the peak says what MLX can reach here, not what the hardware can: torch's peak (torch_peak) is the hardware's.
"""

from __future__ import annotations

import sys
import time

import mlx.core as mx

from batchmark.frameworks.mlx_backend import DTYPES, available_devices
from batchmark.frameworks.peak_timing import best_rate, grow, peak, write_peaks

MAX_MATMUL = 8192
MAX_CONV_BATCH = 256


def synchronize() -> None:
    mx.synchronize()


def matmul_peak(dtype) -> tuple[str, tuple[float, float]]:
    def make(n):
        a, b = (mx.random.normal((n, n)).astype(dtype) for _ in range(2))
        mx.eval(a, b)
        return (lambda: mx.eval(a @ b)), 2.0 * n ** 3

    sizes = [256 * 2 ** k for k in range(6) if 256 * 2 ** k <= MAX_MATMUL]
    n, call, flops = grow(make, sizes, synchronize)
    return f"matmul {n}x{n}", best_rate(call, flops, synchronize)


def conv_peak(dtype) -> tuple[str, tuple[float, float]]:
    channels, size = 128, 28  # ResNet50's stage-2 3x3 convolution, as torch_peak measures it

    def make(batch):
        x = mx.random.normal((batch, size, size, channels)).astype(dtype)
        weight = mx.random.normal((channels, 3, 3, channels)).astype(dtype)
        mx.eval(x, weight)
        return (lambda: mx.eval(mx.conv2d(x, weight, padding=1))), 2.0 * batch * size * size * channels ** 2 * 9

    sizes = [2 ** k for k in range(9) if 2 ** k <= MAX_CONV_BATCH]
    batch, call, flops = grow(make, sizes, synchronize)
    return f"conv3x3 {channels}->{channels} {size}x{size} batch {batch}", best_rate(call, flops, synchronize)


def measure_peaks() -> list[dict]:
    peaks = []
    for support in available_devices():
        mx.set_default_device(mx.cpu if support.name == "cpu" else mx.gpu)
        for precision, dtype in DTYPES.items():
            by_operation, spreads = {}, []
            for measure in (matmul_peak, conv_peak):
                name, (rate, spread) = measure(dtype)
                by_operation[name] = rate
                spreads.append(spread)
            peaks.append(peak(support.name, precision, by_operation, spreads))
    return peaks


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    write_peaks(argv[1], mx.__version__, measure_peaks(), start)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
