"""The model, its optimizer and its precision on one device: one training step, one eval forward.

Precision `auto`: on CUDA autocast in bf16, or fp16 with a loss scaler where bf16 is missing; on a CPU
with native bf16 (AVX512-BF16 or AMX, which oneDNN uses) autocast in bf16, about twice float32's speed;
elsewhere float32. `fp32` forces float32. Always channels_last: cuDNN's and oneDNN's fastest layout.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from classifier.model import cpu_has_native_bf16, resolve_precision
from classifier.training.init_weights import initial_model
from classifier.training.recipe import Recipe, param_groups


def training_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `precision` ('auto', 'fp32', 'bf16', 'fp16') on `device`; None: float32."""
    if precision == "auto" and device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else None
    dtype = resolve_precision(precision, device)
    if dtype == torch.float16 and device.type != "cuda":
        raise ValueError("fp16 training needs CUDA; use bf16 or fp32 on this device")
    return None if dtype == torch.float32 else dtype


class Engine:
    def __init__(self, recipe: Recipe, device: torch.device, precision: str = "auto") -> None:
        cuda = device.type == "cuda"
        self.device = device
        self.memory_format = torch.channels_last
        model = initial_model(recipe.init, recipe.arch)
        self.model: nn.Module = model.to(device).to(memory_format=self.memory_format).train()
        self.optimizer = torch.optim.AdamW(param_groups(self.model, recipe.weight_decay), lr=recipe.lr)
        self.amp = training_precision(precision, device)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == torch.float16 else None
        self.label_smoothing = recipe.label_smoothing
        if cuda:
            torch.backends.cudnn.benchmark = True  # one input size: let cuDNN pick its fastest kernels

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None)

    def step(
        self, images: torch.Tensor, labels: torch.Tensor, *, lr: float, loss_weights: torch.Tensor
    ) -> tuple[float, int]:
        """One optimizer step at learning rate `lr`; returns (loss, correct predictions)."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
        y = labels.to(self.device, non_blocking=True)
        with self._autocast():
            logits = self.model(x)
        # The loss in float32: half-precision cross-entropy loses the small differences late training needs.
        loss = F.cross_entropy(logits.float(), y, weight=loss_weights, label_smoothing=self.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return float(loss.item()), int((logits.argmax(dim=1) == y).sum().item())

    @torch.no_grad()
    def probabilities(self, frames: torch.Tensor) -> torch.Tensor:
        """Class probabilities (float32, CPU) of a batch of frames, in eval mode."""
        x = frames.to(self.device, non_blocking=True, memory_format=self.memory_format)
        with self._autocast():
            return self.model(x).float().softmax(dim=1).cpu()

    def scaler_state(self) -> dict[str, Any] | None:
        return dict(self.scaler.state_dict()) if self.scaler is not None else None

    def load_scaler_state(self, state: dict[str, Any] | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
