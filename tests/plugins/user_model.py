"""A user's own model for `batchmark tune module:function`: a factory as the docs describe it.

It writes the seed it was built under to $USER_MODEL_SEED_FILE, so a test can see that `--seed` reached it.
"""

from __future__ import annotations

import os


def build():
    import torch
    from torch import nn

    if os.environ.get("USER_MODEL_SEED_FILE"):
        with open(os.environ["USER_MODEL_SEED_FILE"], "w") as file:
            file.write(str(torch.initial_seed()))
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 4))
    batch = (torch.rand(8, 3, 16, 16), torch.randint(0, 4, (8,)))
    return model, nn.CrossEntropyLoss(), batch


def not_a_model():
    return "a string"
