"""FLOPs per sample of one training step of each workload, at any size S, worked out by the server itself.

A client's own FLOP count is a claim; the server needs a figure of its own to hold a claimed speed against the
hardware. It cannot import torch (it stays light), so the convolutional workloads' figures are torch's own
counts (batchmark.frameworks.torch_flops: torch.utils.flop_counter, forward and backward, per sample) at two
reference sizes, written down here, and a scaling rule gives a LOWER bound at any other size: a bound the
real count never falls below, so a row is never refused for work it did not have to do.
tests/server/test_integrity_workload_flops.py counts them again with the real counter and fails when this table is stale,
and checks the rule against real counts at sizes in between.

The rule (`Counted.lower_bound`), from counts F(s) at a small size s and F(l) at a large size l, both multiples of
the workload's alignment a (the product of its strides): S is first rounded down to S' = a x floor(S/a), since
pooling layers round down and a smaller image never costs more. Then
- S' <= s: F(s) x (S'/s)^2. At a multiple of a, every layer's output scales exactly as S'^2, and the
  size-independent layers (a classifier head after global pooling) are not scaled down at all.
- S' > s: the per-pixel rate min(F(s)/s^2, F(l)/l^2, (F(l) - F(s)) / (l^2 - s^2)) times S'^2, and at least F(s).
  The last term is the pure S^2 part, without the constant head: below F(S')/S'^2 where a head makes FLOPs per
  pixel fall as S grows; where they rise (CycleGAN's unpadded convolutions), the smallest measured rate is
  below every larger size's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counted:
    """torch's training-step FLOPs per sample at two sizes, multiples of the workload's alignment."""

    alignment: int
    small_size: int
    small: float
    large_size: int
    large: float

    def lower_bound(self, size: int) -> float:
        aligned = size // self.alignment * self.alignment
        if aligned <= self.small_size:
            return self.small * (aligned / self.small_size) ** 2
        per_pixel = min(self.small / self.small_size**2, self.large / self.large_size**2,
                        (self.large - self.small) / (self.large_size**2 - self.small_size**2))
        return max(self.small, per_pixel * aligned**2)


# count_flops(implementation("torch", name), size)[1] with torch 2.13: forward + backward FLOPs per sample, at
# the quick profile's size (which the workload tests count anyway) and the standard one; CycleGAN's two are both
# 256, so its second is 512.
COUNTED = {
    # Five stride-2 stages: 32. Style transfer's VGG16 pools four times: 16. CycleGAN's U-Net takes multiples of 256.
    "resnet50v2_finetune": Counted(32, 64, 1_685_446_656, 224, 20_645_339_136),
    "mobilenetv3": Counted(32, 64, 127_329_024, 224, 1_288_700_544),
    "densenet121": Counted(32, 64, 1_374_535_680, 224, 16_768_942_080),
    "cyclegan": Counted(256, 256, 329_031_483_392, 512, 1_323_521_933_312),
    "style_transfer": Counted(16, 64, 9_445_834_752, 256, 151_133_356_032),
}

# The transformers' figures are the standard analytic estimate (Kaplan et al. 2020; Chowdhery et al. 2022,
# appendix B): 6 FLOPs per parameter per token for a matmul's forward and backward, plus attention's score and
# value products, 12 x layers x width x context per token; exact at any context, where a table would need a rule.
# tests/server/test_integrity_workload_flops.py holds them below torch's own count and within 10% of it.
LAYERS, WIDTH = 12, 768
# One block's matmul weights (qkv 768x2304, projection 768x768, MLP 768x3072 and 3072x768): its biases and
# LayerNorms are elementwise, which the convention does not count.
BLOCK_WEIGHTS = 7_077_888
GPT2_VOCABULARY = 50_257
# Every block's matmuls, and the output projection's (tied to the token table: a lookup forward, a matmul out).
GPT2_MATMUL_PARAMETERS = LAYERS * BLOCK_WEIGHTS + GPT2_VOCABULARY * WIDTH
VIT_TOKENS, VIT_PATCHES = 197, 196  # a 224x224 image in 16x16 patches, and the class token
VIT_PATCH_PARAMETERS = 3 * 16 * 16 * WIDTH  # the patch embedding: one matmul per patch
VIT_HEAD_PARAMETERS = WIDTH * 1000  # the classifier, on the class token only


def gpt2_flops(tokens: int) -> float:
    """Per sequence of `tokens` tokens. The causal mask lets a fused attention kernel skip the upper half of the
    score matrix, so for a lower bound attention counts half: 6, not 12, x layers x width x context."""
    return 6 * GPT2_MATMUL_PARAMETERS * tokens + 6 * LAYERS * WIDTH * tokens * tokens


def vit_flops() -> float:
    """Per 224x224 image; the size is fixed by the position table. The patch embedding costs 4, not 6, per
    parameter per patch: the images need no gradient, so its backward has no input term."""
    return (6 * LAYERS * BLOCK_WEIGHTS * VIT_TOKENS + 4 * VIT_PATCH_PARAMETERS * VIT_PATCHES
            + 6 * VIT_HEAD_PARAMETERS + 12 * LAYERS * WIDTH * VIT_TOKENS * VIT_TOKENS)


def train_flops_per_sample(workload: str, size: int) -> float | None:
    """A lower bound on one training step's FLOPs per sample at size S; None for a workload this table does not
    know (a plugin's), which is held only against the fastest device's bound."""
    if workload in COUNTED:
        return COUNTED[workload].lower_bound(size)
    if workload == "gpt2_124m":
        return gpt2_flops(size)
    if workload == "vit_b16":
        return vit_flops()
    return None
