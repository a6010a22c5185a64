"""The plan's `attention` switch as the workloads see it, for every framework family.

The backend builds a task inside ``attention_implementation(plan.attention)``; each attention layer reads
``current_attention()`` once, in its constructor, so a traced, compiled or jitted step runs the layer's own choice
whatever the context is by then. The same way the PyTorch tasks get the plan's Adam implementation, without
every workload's factory taking the plan. Imports no framework.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar

from batchmark.plans import ATTENTIONS

_attention: ContextVar[str] = ContextVar("attention_implementation", default="fused")


@contextlib.contextmanager
def attention_implementation(name: str):
    """Attention layers built inside compute attention this way ("fused" or "math")."""
    if name not in ATTENTIONS:
        raise ValueError(f"unknown attention implementation '{name}': expected one of {', '.join(ATTENTIONS)}")
    token = _attention.set(name)
    try:
        yield
    finally:
        _attention.reset(token)


def current_attention() -> str:
    """The implementation an attention layer built now uses."""
    return _attention.get()
