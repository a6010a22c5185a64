"""The numerics guard: reduced precision or a compiler must not buy speed with broken training.

Every short trial trains the same initial weights on the same fixed batch for the same number of steps, so
the loss after those steps is comparable across plans of one device. A plan is rejected when its loss is
NaN or infinite, or differs from the fp32 eager plan's by more than a relative tolerance (5% by default:
bf16 autocast on these models lands within about 1%; a broken plan lands far outside).
"""

from __future__ import annotations

import math


def loss_gap(losses: list[float], reference: list[float]) -> float | None:
    """Relative gap of the last common step's loss to the reference's; NaN when the plan's loss is not finite.

    None when there is nothing to compare (no common step, or a non-finite reference)."""
    if any(not math.isfinite(loss) for loss in losses):
        return math.nan
    common = min(len(losses), len(reference))
    if common == 0 or not math.isfinite(reference[common - 1]):
        return None
    expected, got = reference[common - 1], losses[common - 1]
    return abs(got - expected) / max(abs(expected), 1e-8)
