"""The probe head of Kapoor et al.: an MLP on a last-token hidden state."""
from __future__ import annotations

import torch
from torch import nn

PROBE_HIDDEN = (256, 128, 64)  # reference code's widths: d -> 256 -> 128 -> 64 -> 2


class ProbeHead(nn.Module):
    def __init__(self, input_size: int, hidden: tuple[int, ...] = PROBE_HIDDEN) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_size
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 2))  # logits for (wrong, right)
        self.net = nn.Sequential(*layers)
        self.input_size = input_size
        self.hidden = tuple(hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # (B, d) -> (B, 2)
        return self.net(features.float())

    def p_correct(self, features: torch.Tensor) -> torch.Tensor:  # (B,)
        return torch.softmax(self.forward(features), dim=-1)[:, 1]
