"""The workloads batchmark knows: one framework-neutral spec each, and per-framework implementations.

A spec says *what* is trained (model, inputs, loss, standard batch); it imports no framework, so that
`batchmark list` stays instant. Each implementation family (``batchmark.workloads.torch``, and
``batchmark.workloads.keras``, whose Keras 3 code serves both TensorFlow and JAX) registers how to build the
workload when it is imported, which only happens inside a worker process.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from batchmark.errors import unknown


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    inputs: str  # the synthetic batch, shapes written with B = batch size and S = image size
    loss: str
    trains: str  # what one step updates
    # How many parameters one step trains, as PyTorch counts them (Keras's count_params adds BatchNorm's moving
    # statistics, which PyTorch keeps as buffers), at image_size. Every implementation must build exactly this
    # network, and the tests check each one against it: a wrong layer anywhere changes the count. None only for
    # a test or plugin workload that declares none, such as the tests' workloads that fail on purpose.
    trainable_parameters: int | None
    batch_size: int  # the seed article's batch
    image_size: int  # the seed article's input height and width
    min_image_size: int  # the smallest input the architecture's downsampling accepts
    image_multiple: int  # inputs must divide evenly through the architecture's down- and upsampling
    quick_batch_size: int  # for --quick: small enough that the whole suite takes about 2 minutes on 2 cores
    quick_image_size: int
    # Which suite the workload belongs to (`batchmark run --suite`): the seed article's five, or today's models.
    suite: str = "seed"
    # What the "image size" S is for this workload: an image's side in pixels, or a language model's context
    # length in tokens (a sample is then one sequence of S tokens, and throughput is also shown in tokens/s).
    size_unit: str = "pixels"
    # The largest S the model takes: a learned position table is built for a fixed number of positions.
    max_image_size: int | None = None
    # Which plan switches can change this model's step, so that the tuner measures only those: a memory layout
    # means nothing without convolutions, an attention kernel nothing without attention.
    convolutional: bool = True
    has_attention: bool = False

    def size_problem(self, size: int) -> str | None:
        """Why `size` cannot be this workload's S, in words, or None when it can."""
        multiple = f" and a multiple of {self.image_multiple}" if self.image_multiple > 1 else ""
        if self.max_image_size is not None and self.max_image_size == self.min_image_size:
            needs = f"exactly {self.min_image_size}"
        elif self.max_image_size is not None:
            needs = f"{self.min_image_size} to {self.max_image_size}{multiple}"
        else:
            needs = f"at least {self.min_image_size}{multiple}"
        fits = (size >= self.min_image_size and not size % self.image_multiple
                and (self.max_image_size is None or size <= self.max_image_size))
        return None if fits else f"it needs {needs} {self.size_name}"

    @property
    def size_name(self) -> str:
        return "tokens of context" if self.size_unit == "tokens" else "pixels"

    def tokens_per_sample(self, size: int) -> int | None:
        """Tokens in one sample of size S, for a language model; None for images."""
        return size if self.size_unit == "tokens" else None

    def describe_size(self, batch_size: int, size: int) -> str:
        """A batch's shape as a reader expects it: "8×1024 tokens" or "32×224²"."""
        return f"{batch_size}×{size} tokens" if self.size_unit == "tokens" else f"{batch_size}×{size}²"


_WORKLOADS: dict[str, Workload] = {}
# (family, workload name) -> factory; filled when a family's workload package is imported.
_IMPLEMENTATIONS: dict[tuple[str, str], Callable] = {}


def register_workload(spec: Workload) -> Workload:
    if spec.name in _WORKLOADS and _WORKLOADS[spec.name] != spec:
        raise ValueError(f"workload '{spec.name}' is registered twice with different specs")
    _WORKLOADS[spec.name] = spec
    return spec


def implements(family: str, workload: str) -> Callable[[Callable], Callable]:
    """Decorator for the factory that builds `workload` in `family` ("torch" or "keras")."""

    def decorate(factory: Callable) -> Callable:
        _IMPLEMENTATIONS[(family, workload)] = factory
        return factory

    return decorate


# `batchmark run --suite`: the seed article's five workloads (the default, so `make run` keeps its time), today's
# transformers, or both.
SUITES = {
    "seed": "the seed article's five convolutional workloads (the default)",
    "modern": "the transformers people train today: GPT-2 small and ViT-B/16",
    "all": "every workload",
}


def workload_names(suite: str = "all") -> list[str]:
    """Registered workloads, in registration order; those of one suite, or all."""
    if suite not in SUITES:
        raise unknown("suite", suite, list(SUITES))
    return [name for name, spec in _WORKLOADS.items() if suite == "all" or spec.suite == suite]


def get_workload(name: str) -> Workload:
    if name not in _WORKLOADS:
        raise unknown("workload", name, workload_names())
    return _WORKLOADS[name]


def load_families(families: tuple[str, ...]) -> None:
    """Import each family's package, `batchmark.workloads.<family>`, which registers its implementations. That
    imports the framework (Keras picks its backend when imported), so only workers and tests call this;
    `batchmark list` never does. A framework names its family in its record (batchmark.frameworks)."""
    for family in families:
        try:
            importlib.import_module(f"{__package__}.{family}")
        except ModuleNotFoundError as error:
            if error.name != f"{__package__}.{family}":
                raise  # the family exists; something it imports is missing
            raise NotImplementedError(f"no workloads package for the family '{family}'") from None


def batch_shape(workload: str, batch_size: int, size: int) -> str:
    """A row's batch as its workload means it ("8×1024 tokens", "32×224²"); images for a workload unknown here
    (a plugin's on a leaderboard server)."""
    spec = _WORKLOADS.get(workload)
    return spec.describe_size(batch_size, size) if spec else f"{batch_size}×{size}²"


def throughput_text(workload: str, size: int, samples_per_second: float) -> str:
    """Samples/s as a reader of this workload counts them: with tokens/s beside it for a language model, which is
    how that community compares (tokens/s = samples/s × context length)."""
    rate = f"{samples_per_second:.1f}" if samples_per_second >= 1 else f"{samples_per_second:.3f}"
    spec = _WORKLOADS.get(workload)
    tokens = spec.tokens_per_sample(size) if spec else None
    return rate if tokens is None else f"{rate} ({samples_per_second * tokens:,.0f} tok/s)"


def families_implementing(workload: str) -> list[str]:
    """The families with an implementation of `workload` among those registered so far; imports nothing, so a
    family counts only once `load_families` (or a plugin) has registered it in this process."""
    get_workload(workload)
    return list(dict.fromkeys(family for family, name in _IMPLEMENTATIONS if name == workload))


def implementation(family: str, workload: str) -> Callable:
    """The factory for `workload` in `family` ("torch", "keras"); imports that framework (in a worker only)."""
    get_workload(workload)
    load_families((family,))
    try:
        return _IMPLEMENTATIONS[(family, workload)]
    except KeyError:
        raise NotImplementedError(f"workload '{workload}' has no {family} implementation") from None


# The seed article's five workloads. Sizes and batches are the article's; the quick profile shrinks both.
register_workload(Workload(
    name="resnet50v2_finetune",
    description="ResNet50V2 (pre-activation, Keras layout) without top + global-average-pool + Dense(10), fine-tuned",
    inputs="images (B, 3, S, S), labels (B,) in 0..9",
    loss="cross-entropy; Adam lr 1e-5",
    trains="the whole network, BatchNorm frozen in inference mode (Keras transfer-learning guide)",
    trainable_parameters=23_519_360 + 2048 * 10 + 10,  # ResNet50V2 without top (as Keras's) + Dense(10)
    batch_size=32, image_size=224, min_image_size=32, image_multiple=1, quick_batch_size=4, quick_image_size=64,
))
register_workload(Workload(
    name="mobilenetv3",
    description="MobileNetV3Large (alpha 1.0, 1000 classes) from scratch",
    inputs="images (B, 3, S, S), labels (B,) in 0..999",
    loss="cross-entropy; Adam lr 1e-3",
    trains="all layers",
    trainable_parameters=5_483_032,  # as Keras's trainable count
    batch_size=32, image_size=224, min_image_size=32, image_multiple=1, quick_batch_size=4, quick_image_size=64,
))
register_workload(Workload(
    name="densenet121",
    description="DenseNet121 (1000 classes) from scratch",
    inputs="images (B, 3, S, S), labels (B,) in 0..999",
    loss="cross-entropy; Adam lr 1e-3",
    trains="all layers",
    trainable_parameters=7_978_856,  # as Keras's trainable count
    batch_size=32, image_size=224, min_image_size=32, image_multiple=1, quick_batch_size=4, quick_image_size=64,
))
register_workload(Workload(
    name="cyclegan",
    description="CycleGAN (TensorFlow tutorial): two pix2pix U-Net generators, two PatchGAN discriminators, instance norm",
    inputs="domain X images (B, 3, S, S), domain Y images (B, 3, S, S)",
    loss="adversarial (BCE) + cycle (lambda 10) + identity (lambda 5); four Adam 2e-4, beta1 0.5",
    trains="both generators and both discriminators",
    trainable_parameters=2 * 54_414_979 + 2 * 2_765_569,  # two generators, two discriminators
    # The U-Net downsamples 8 times, so the input must be a multiple of 256.
    batch_size=1, image_size=256, min_image_size=256, image_multiple=256, quick_batch_size=1, quick_image_size=256,
))
register_workload(Workload(
    name="style_transfer",
    description="Fast style transfer (Johnson et al. 2016): transform net + frozen VGG16 perceptual loss",
    inputs="content images (B, 3, S, S); one fixed style image",
    loss="content (relu2_2) + style Gram (relu1_2, relu2_2, relu3_3, relu4_3) + total variation; Adam 1e-3",
    trains="the transform net (VGG16 frozen)",
    trainable_parameters=1_679_235,  # the transform net alone
    batch_size=4, image_size=256, min_image_size=32, image_multiple=4, quick_batch_size=1, quick_image_size=64,
))

# Today's models (issue 14): the two with the best public reference points, defined as their papers and reference
# code do. Parameter counts are PyTorch's; both models have biases in every Linear and LayerNorm.
register_workload(Workload(
    name="gpt2_124m",
    description="GPT-2 small (124M): 12 layers, 12 heads, width 768, pre-LayerNorm, tied output, causal LM pre-training",
    inputs="token ids (B, S) in 0..50256, S = context <= 1024; targets = the ids shifted by one",
    loss="next-token cross-entropy; AdamW lr 6e-4, betas 0.9/0.95, weight decay 0.1 on matrices only",
    trains="all parameters; the output projection is the token embedding (one tensor)",
    # token 50257x768 + position 1024x768 + 12 blocks x 7,087,872 + final LayerNorm 1536
    trainable_parameters=124_439_808,
    batch_size=8, image_size=1024, min_image_size=1, image_multiple=1, quick_batch_size=2, quick_image_size=128,
    suite="modern", size_unit="tokens", max_image_size=1024, convolutional=False, has_attention=True,
))
register_workload(Workload(
    name="vit_b16",
    description="ViT-B/16 (Dosovitskiy et al. 2021): patch 16, class token, 12 layers, 12 heads, width 768, from scratch",
    inputs="images (B, 3, 224, 224), labels (B,) in 0..999",
    loss="cross-entropy on the class token; AdamW lr 1e-3, weight decay 0.1 on matrices only",
    trains="all parameters, class token and position embeddings included",
    # patch 3*16*16*768+768, class 768, positions 197x768, 12 blocks x 7,087,872, LayerNorm 1536, head 769,000
    trainable_parameters=86_567_656,
    # The position table has one entry per patch of a 224x224 image, so the quick profile keeps 224 too.
    batch_size=32, image_size=224, min_image_size=224, image_multiple=16, quick_batch_size=2, quick_image_size=224,
    # The patch embedding is one convolution: channels_last may still change it, so the tuner keeps trying it.
    suite="modern", max_image_size=224, has_attention=True,
))
