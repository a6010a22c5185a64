import torch
from torch import nn

import batchmark

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
    nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
images, labels = torch.rand(64, 3, 64, 64), torch.randint(0, 10, (64,))  # one example batch: its shapes matter

step = batchmark.accelerate(model, optimizer, loss_fn, (images, labels))
print("plan:", step.plan)  # device, precision, compile, layout; where it came from; the measured speedup
for reason in step.plan.rejected:
    print("  ", reason)  # every switch that lost, failed, or was not worth measuring here, and why

for epoch in range(3):  # your data loader here; the step moves each batch to the plan's device
    loss = step((images, labels))
    print(f"epoch {epoch}: loss {loss.item():.4f}")
