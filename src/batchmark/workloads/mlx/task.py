"""The interface every MLX workload implements, and the generic image-classifier task.

MLX is functional and NHWC. A task makes its synthetic batch channels-last and says what a step's loss is, so
that `nn.value_and_grad` can differentiate it. The simplest task has one `model`, one `optimizer` and
`loss(model, *batch)`. A task with several networks also names them (`networks`: trainable or frozen, all
held in `model`, so that the backend casts, loads and evaluates one tree), gives one optimizer per trained
network (`optimizers`) and one loss per optimizer (`losses(*batch)`, as the PyTorch and Keras twins'
objectives; the FLOP counter reads them), and builds its own step if one `nn.value_and_grad` cannot train it
(`make_step`). The accessors below read either shape. Devices, precision, compilation and the honest evaluation
of a lazy step are the backend's (`batchmark.frameworks.mlx_backend`), so every plan runs the same model code.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim


def adam(learning_rate: float, betas: tuple[float, float] = (0.9, 0.999)) -> optim.Adam:
    """Adam as torch.optim.Adam and Keras run it: MLX's own Adam leaves out the bias correction by default."""
    return optim.Adam(learning_rate=learning_rate, betas=list(betas), eps=1e-8, bias_correction=True)


def random_images(batch_size: int, image_size: int, key: mx.array) -> mx.array:
    """Images in [0, 1], shape (B, S, S, 3): MLX's convolutions are channels-last."""
    return mx.random.uniform(shape=(batch_size, image_size, image_size, 3), key=key)


class Networks(nn.Module):
    """Several named networks as one module (parameters named "<network>.<parameter>"): what a task with more
    than one network gives the backend as its `model`."""

    def __init__(self, **networks: nn.Module):
        super().__init__()
        for name, network in networks.items():
            setattr(self, name, network)


def networks_of(task) -> dict[str, nn.Module]:
    """Every network of a step by name, trainable or frozen: the FLOP counter follows the data between them."""
    return task.networks if hasattr(task, "networks") else {"model": task.model}


def optimizers_of(task) -> dict[str, optim.Optimizer]:
    """Network name -> the optimizer of that network's trainable parameters; one loss per entry."""
    return task.optimizers if hasattr(task, "optimizers") else {"model": task.optimizer}


def losses_of(task, batch: tuple[mx.array, ...]) -> dict[str, mx.array]:
    """The forward pass of one step: network name -> its scalar float32 loss (keys: `optimizers_of`'s)."""
    return task.losses(*batch) if hasattr(task, "losses") else {"model": task.loss(task.model, *batch)}


def make_step(task):
    """The task's uncompiled step (batch -> the loss to report), its optimizers' slots created so that the
    backend can check and compile over them. A task with several losses builds its own (`task.make_step`);
    for one loss it is one `nn.value_and_grad` over the one trained network (frozen ones are constants)."""
    if hasattr(task, "make_step"):
        return task.make_step()
    ((name, optimizer),) = optimizers_of(task).items()
    network = networks_of(task)[name]
    optimizer.init(network.trainable_parameters())
    loss_and_gradients = nn.value_and_grad(network, lambda *batch: losses_of(task, batch)[name])

    def train_step(*batch):
        loss, gradients = loss_and_gradients(*batch)
        optimizer.update(network, gradients)
        return loss

    return train_step


class ClassifierTask:
    """Image classification with cross-entropy and Adam: the seed's ResNet, MobileNet and DenseNet steps."""

    def __init__(self, model: nn.Module, num_classes: int, learning_rate: float = 1e-3):
        self.model = model
        self.num_classes = num_classes
        self.optimizer = adam(learning_rate)

    def make_batch(self, batch_size: int, image_size: int, seed: int) -> tuple[mx.array, ...]:
        image_key, label_key = mx.random.split(mx.random.key(seed))
        labels = mx.random.randint(0, self.num_classes, (batch_size,), key=label_key)
        return random_images(batch_size, image_size, image_key), labels

    def set_modes(self) -> None:
        self.model.train()

    def loss(self, model: nn.Module, images: mx.array, labels: mx.array) -> mx.array:
        logits = model(images)  # (B, classes)
        # Softmax + cross-entropy in fp32 whatever the plan's precision, as the torch and Keras twins do.
        return nn.losses.cross_entropy(logits.astype(mx.float32), labels, reduction="mean")

