"""What tests/workloads/test_keras_transformers.py checks of the Keras GPT-2 and ViT, measured on one backend.

``python -m tests.workloads.keras_transformers_report FRAMEWORK`` prints JSON. The full-size models are only
built (parameter counts, the tied embedding, ViT's output shape); behaviour is measured on tiny configurations,
registered here as workloads so that they go through the backend's own prepare and training step with the
plan's attention switch, as a benchmark run does. TensorFlow, JAX and PyTorch never share a process.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from batchmark.frameworks import load_backend
from batchmark.plans import ATTENTIONS, Plan
from batchmark.workloads.registry import Workload, implementation, implements, register_workload
from tests.frameworks.keras_report import variable_value

# Small enough to build and step in a second; two of everything, so that a layer that mixed its inputs up would
# show. ViT keeps its 1000 classes, the output shape under test.
TINY_GPT2 = {"vocabulary": 97, "context": 16, "layers": 2, "heads": 2, "width": 16, "mlp_width": 32}
TINY_VIT = {"image_size": 32, "patch": 16, "layers": 2, "heads": 2, "width": 16, "mlp_width": 32}
BATCH, TOKENS = 2, 8
CHANGED_POSITION = 4  # causality: the token changed here must not move the logits of positions 0..3
STEPS = 5


def register_tiny_workloads() -> None:
    from batchmark.workloads.keras import gpt2, vit

    for name, size in (("tiny_gpt2", TINY_GPT2["context"]), ("tiny_vit", TINY_VIT["image_size"])):
        register_workload(Workload(
            name=name, description="a tiny configuration for tests", inputs="as the full-size model's",
            loss="as the full-size model's", trains="all", trainable_parameters=None, batch_size=BATCH,
            image_size=size, min_image_size=1, image_multiple=1, quick_batch_size=BATCH, quick_image_size=size,
        ))
    implements("keras", "tiny_gpt2")(lambda: gpt2.LanguageModelTask(gpt2.GPT2Config(**TINY_GPT2)))
    implements("keras", "tiny_vit")(lambda: vit.VisionTransformerTask(vit.ViTConfig(**TINY_VIT)))


def plan_for(framework: str, attention: str) -> Plan:
    return Plan(framework=framework, compile="xla" if framework == "jax" else "off", channels_last=True,
                attention=attention)


def count(variables) -> int:
    return sum(math.prod(v.shape) for v in variables)


def full_size() -> dict:
    """The real configurations, built but never run."""
    gpt2 = implementation("keras", "gpt2_124m")().model
    vit = implementation("keras", "vit_b16")().model
    vocabulary = gpt2.settings.vocabulary
    return {
        "gpt2_parameters": count(gpt2.trainable_variables),
        "gpt2_vocabulary_sized": [v.path for v in gpt2.trainable_variables if vocabulary in v.shape],
        "gpt2_token_embedding": gpt2.token_embedding.embeddings.path,
        "vit_parameters": count(vit.trainable_variables),
        "vit_output_shape": list(vit.output.shape),
    }


def gradients(framework: str, task, batch) -> list:
    """The loss's gradient with respect to each trainable variable of the task's model, as NumPy arrays."""
    variables = task.model.trainable_variables
    if framework == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = task.losses(batch)["model"]
        return [np.asarray(tf.convert_to_tensor(g)) for g in tape.gradient(loss, variables)]
    import jax
    import keras

    def loss_of(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return task.losses(batch)["model"]

    # Jitted: op by op, JAX would compile every primitive on its first call, which costs more than the model.
    return [np.asarray(g) for g in jax.jit(jax.grad(loss_of))([v.value for v in variables])]


def forward(framework: str, model):
    """The model as a function of its input, at its current weights (jitted on JAX, as `gradients`)."""
    if framework == "tensorflow":
        return lambda inputs: np.asarray(model(inputs))
    import jax

    return lambda inputs, run=jax.jit(lambda x: model(x)): np.asarray(run(inputs))


def attention_layers(model) -> list:
    from batchmark.workloads.keras.transformer import TransformerBlock

    blocks = getattr(model, "blocks", None) or [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    return [block.attention for block in blocks]


def language_model(backend, framework: str, attention: str) -> dict:
    prepared = backend.prepare("tiny_gpt2", plan_for(framework, attention), BATCH, TOKENS, 0, None)
    session, task = prepared.session, prepared.session.task
    model = task.model
    tokens = np.asarray(session.batch[0])
    changed = tokens.copy()
    changed[:, CHANGED_POSITION] = (changed[:, CHANGED_POSITION] + 1) % task.config.vocabulary
    run = forward(framework, model)
    logits = run(tokens)  # (B, S, V)
    moved = np.abs(run(changed) - logits)
    grads = gradients(framework, task, session.batch)
    embedding = model.trainable_variables.index(model.token_embedding.embeddings)
    unseen = np.setdiff1d(np.arange(task.config.vocabulary), tokens)  # ids the batch never feeds in
    figures = {
        "batch_dtypes": [str(np.asarray(part).dtype) for part in session.batch],
        "layer_implementations": sorted({layer.implementation for layer in attention_layers(model)}),
        "logits": logits.tolist(),
        "moved_before": float(moved[:, :CHANGED_POSITION].max()),
        "moved_from": float(moved[:, CHANGED_POSITION:].max()),
        "zero_gradients": [v.path for v, g in zip(model.trainable_variables, grads) if not np.any(g)],
        "finite_gradients": all(np.isfinite(g).all() for g in grads),
        # Rows of ids the batch never feeds in get a gradient only through the tied output projection.
        "unseen_rows_gradient": float(np.abs(grads[embedding][unseen]).max()),
        "losses": [session.read_loss(session.step()) for _ in range(STEPS)],
        "flops": backend.flops_per_sample(prepared),  # (forward, training step) per sample
    }
    if framework == "tensorflow":  # which ops the traced step runs: Keras's op is einsums, the math matmuls
        graph = session.train_step.get_concrete_function(session.batch).graph
        figures["step_op_types"] = sorted({op.type for op in graph.get_operations()} & {"Einsum", "BatchMatMulV2"})
    return figures


def vision(backend, framework: str, attention: str) -> dict:
    prepared = backend.prepare("tiny_vit", plan_for(framework, attention), BATCH, TINY_VIT["image_size"], 0, None)
    session, task = prepared.session, prepared.session.task
    model = task.model
    images = np.asarray(session.batch[0])
    logits = forward(framework, model)(images)  # (B, 1000)
    grads = gradients(framework, task, session.batch)
    tokens = model.get_layer("tokens")
    before = {v.name: np.asarray(variable_value(prepared, v)).copy() for v in tokens.trainable_variables}
    losses = [session.read_loss(session.step())]
    session.synchronize()
    trained = {v.name: not np.array_equal(before[v.name], variable_value(prepared, v))
               for v in tokens.trainable_variables}
    return {
        "layer_implementations": sorted({layer.implementation for layer in attention_layers(model)}),
        "output_shape": list(logits.shape),
        "logits": logits.tolist(),
        "zero_gradients": [v.path for v, g in zip(model.trainable_variables, grads) if not np.any(g)],
        "tokens_trained": trained,
        "losses": losses + [session.read_loss(session.step()) for _ in range(STEPS - 1)],
        "flops": backend.flops_per_sample(prepared),
    }


def cudnn_attention_flops() -> dict:
    """JAX: FLOPs of attention's forward and backward through cuDNN's fused kernel and through XLA's dot_generals,
    counted from their jaxprs. Without a GPU, tracing the cuDNN path needs its version checks answered; the
    jaxpr is the one a GPU step has, never run."""
    import jax
    import jax.numpy as jnp
    from jax._src.cudnn import fused_attention_stablehlo as cudnn

    from batchmark.frameworks.jax_flops import count_flops

    cudnn.check_cudnn_version = lambda: 91000
    cudnn.check_compute_capability = lambda capability: True
    queries = jax.ShapeDtypeStruct((2, 8, 4, 16), jnp.bfloat16)  # (B, T, N, H)

    def step_of(implementation: str):
        def loss(query, key, value):
            attended = jax.nn.dot_product_attention(query, key, value, is_causal=True, implementation=implementation)
            return jnp.square(attended.astype(jnp.float32)).sum()  # not a plain sum, whose gradient is a constant

        return jax.grad(loss, argnums=(0, 1, 2))

    return {implementation: count_flops(jax.make_jaxpr(step_of(implementation))(queries, queries, queries))
            for implementation in ("cudnn", "xla")}


if __name__ == "__main__":
    framework = sys.argv[1]
    backend = load_backend(framework)
    register_tiny_workloads()
    print(json.dumps({
        "full_size": full_size(),
        "gpt2": {attention: language_model(backend, framework, attention) for attention in ATTENTIONS},
        "vit": {attention: vision(backend, framework, attention) for attention in ATTENTIONS},
        **({"cudnn_attention_flops": cudnn_attention_flops()} if framework == "jax" else {}),
    }))
