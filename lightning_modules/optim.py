"""The optimiser every trained method here uses: AdamW, linear warm-up, then cosine decay per step."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import lightning as L
import torch


def adamw_warmup_cosine(
    module: L.LightningModule,
    lr: float,
    weight_decay: float,
    warmup_fraction: float,
    parameters: Iterable[torch.nn.Parameter] | None = None,
) -> dict[str, Any]:
    """``configure_optimizers``' return value; the step count comes from the module's Trainer."""
    optimizer = torch.optim.AdamW(
        module.parameters() if parameters is None else parameters, lr=lr, weight_decay=weight_decay
    )
    total = max(1, int(module.trainer.estimated_stepping_batches))
    warmup = max(1, int(total * warmup_fraction))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
