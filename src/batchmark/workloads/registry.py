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
    batch_size: int  # the seed article's batch
    image_size: int  # the seed article's input height and width
    min_image_size: int  # the smallest input the architecture's downsampling accepts
    image_multiple: int  # inputs must divide evenly through the architecture's down- and upsampling
    quick_batch_size: int  # for --quick: small enough that the whole suite takes about 2 minutes on 2 cores
    quick_image_size: int


_WORKLOADS: dict[str, Workload] = {}
# (family, workload name) -> factory; filled when a family's workload package is imported.
_IMPLEMENTATIONS: dict[tuple[str, str], Callable] = {}
# Framework -> the implementation family that builds its models: Keras 3 runs one model file on either backend.
FRAMEWORK_FAMILIES = {"torch": "torch", "tensorflow": "keras", "jax": "keras"}
# Family -> the package whose import registers its implementations.
FAMILY_PACKAGES = {"torch": "batchmark.workloads.torch", "keras": "batchmark.workloads.keras"}


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


def workload_names() -> list[str]:
    return list(_WORKLOADS)


def get_workload(name: str) -> Workload:
    if name not in _WORKLOADS:
        raise unknown("workload", name, workload_names())
    return _WORKLOADS[name]


def implementation(framework: str, workload: str) -> Callable:
    """The factory for `workload` in `framework`; imports that framework (call it in a worker only)."""
    get_workload(workload)
    if framework not in FRAMEWORK_FAMILIES:
        raise unknown("framework", framework, list(FRAMEWORK_FAMILIES))
    family = FRAMEWORK_FAMILIES[framework]
    importlib.import_module(FAMILY_PACKAGES[family])
    try:
        return _IMPLEMENTATIONS[(family, workload)]
    except KeyError:
        raise NotImplementedError(f"workload '{workload}' has no {framework} implementation") from None


# The seed article's five workloads. Sizes and batches are the article's; the quick profile shrinks both.
register_workload(Workload(
    name="resnet50v2_finetune",
    description="ResNet50V2 (pre-activation, Keras layout) without top + global-average-pool + Dense(10), fine-tuned",
    inputs="images (B, 3, S, S), labels (B,) in 0..9",
    loss="cross-entropy; Adam lr 1e-5",
    trains="the whole network, BatchNorm frozen in inference mode (Keras transfer-learning guide)",
    batch_size=32, image_size=224, min_image_size=32, image_multiple=1, quick_batch_size=4, quick_image_size=64,
))
register_workload(Workload(
    name="mobilenetv3",
    description="MobileNetV3Large (alpha 1.0, 1000 classes) from scratch",
    inputs="images (B, 3, S, S), labels (B,) in 0..999",
    loss="cross-entropy; Adam lr 1e-3",
    trains="all layers",
    batch_size=32, image_size=224, min_image_size=32, image_multiple=1, quick_batch_size=4, quick_image_size=64,
))
register_workload(Workload(
    name="densenet121",
    description="DenseNet121 (1000 classes) from scratch",
    inputs="images (B, 3, S, S), labels (B,) in 0..999",
    loss="cross-entropy; Adam lr 1e-3",
    trains="all layers",
    batch_size=32, image_size=224, min_image_size=32, image_multiple=1, quick_batch_size=4, quick_image_size=64,
))
register_workload(Workload(
    name="cyclegan",
    description="CycleGAN (TensorFlow tutorial): two pix2pix U-Net generators, two PatchGAN discriminators, instance norm",
    inputs="domain X images (B, 3, S, S), domain Y images (B, 3, S, S)",
    loss="adversarial (BCE) + cycle (lambda 10) + identity (lambda 5); four Adam 2e-4, beta1 0.5",
    trains="both generators and both discriminators",
    # The U-Net downsamples 8 times, so the input must be a multiple of 256.
    batch_size=1, image_size=256, min_image_size=256, image_multiple=256, quick_batch_size=1, quick_image_size=256,
))
register_workload(Workload(
    name="style_transfer",
    description="Fast style transfer (Johnson et al. 2016): transform net + frozen VGG16 perceptual loss",
    inputs="content images (B, 3, S, S); one fixed style image",
    loss="content (relu2_2) + style Gram (relu1_2, relu2_2, relu3_3, relu4_3) + total variation; Adam 1e-3",
    trains="the transform net (VGG16 frozen)",
    batch_size=4, image_size=256, min_image_size=32, image_multiple=4, quick_batch_size=1, quick_image_size=64,
))
