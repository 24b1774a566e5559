"""The two models of the sheet."""
from __future__ import annotations

from torch import nn


class MLP(nn.Sequential):
    """Exercise 2.2's network:
    in -> 512 -> sigmoid -> 128 -> sigmoid -> 10 -> log-softmax."""

    def __init__(self, in_features: int = 28 * 28):
        super().__init__(
            nn.Flatten(),
            nn.Linear(in_features, 512), nn.Sigmoid(),
            nn.Linear(512, 128), nn.Sigmoid(),
            nn.Linear(128, 10), nn.LogSoftmax(dim=1),
        )


class CNN(nn.Sequential):
    """3.3's six layers (three convolutions, flatten, two linear), ReLU after
    each computational layer but the last, log-softmax output.
    Input: 3 x 32 x 32 (CIFAR-10)."""

    def __init__(self):
        super().__init__(
            nn.Conv2d(3, 32, kernel_size=3, stride=1), nn.ReLU(),     # 32 x 30 x 30
            nn.Conv2d(32, 64, kernel_size=3, stride=2), nn.ReLU(),    # 64 x 14 x 14
            nn.Conv2d(64, 128, kernel_size=3, stride=1), nn.ReLU(),   # 128 x 12 x 12
            nn.Flatten(),                                             # 18432
            nn.Linear(18432, 128), nn.ReLU(),
            nn.Linear(128, 10), nn.LogSoftmax(dim=1),
        )


INPUT_FEATURES = {"mnist": 28 * 28, "cifar10": 3 * 32 * 32}


def build_model(name: str, dataset: str) -> nn.Module:
    """Return a freshly initialised model by name ("mlp" or "cnn") for a dataset."""
    if name == "mlp":
        return MLP(INPUT_FEATURES[dataset])
    if name == "cnn":
        if dataset != "cifar10":
            raise ValueError("the CNN of 3.3 takes 3 x 32 x 32 CIFAR-10 images")
        return CNN()
    raise ValueError(f"unknown model {name!r}; choose 'mlp' or 'cnn'")


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
