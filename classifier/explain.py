"""Grad-CAM: which parts of an image drove the classifier's verdict (Selvaraju et al., 2017).

Plain synchronous torch, like model.py. It needs gradients, so it never goes through the batcher
(whose model runs under inference_mode, possibly in half precision): an `Explainer` holds its own
float32 copy of the checkpoint. The heatmap is computed on the letterboxed model input and mapped
back through the same letterbox geometry onto the original image, so it lines up with what the
user posted.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

from classifier.heatmap import render_explanation
from classifier.model import CheckpointMeta, load_checkpoint, select_device
from classifier.preprocess import (
    DecodeLimits,
    decode_frames,
    letterbox_geometry,
    scaled_to_fit,
    to_tensor,
)

# The picture we draw on: big enough to see the heat and read the legend, small enough to send.
RENDER_MIN_SIDE = 384
RENDER_MAX_SIDE = 1024


@dataclass(frozen=True)
class CamResult:
    """A Grad-CAM map on the model's feature grid ([h, w], 0..1) for one class, with the probabilities."""

    cam: np.ndarray
    class_index: int
    probabilities: tuple[float, ...]


@dataclass(frozen=True)
class Explanation:
    label: str
    confidence: float
    heatmap: np.ndarray  # [H, W] in 0..1, aligned with `image`
    image: Image.Image  # the (resized) original the heatmap belongs to
    model_version: str

    def picture(self) -> Image.Image:
        """The image with the heatmap over it and a legend band underneath."""
        return render_explanation(self.image, self.heatmap, self.label, self.confidence)

    def png(self) -> bytes:
        out = io.BytesIO()
        self.picture().save(out, "PNG")
        return out.getvalue()


class GradCam:
    """Grad-CAM on one layer (by default a ResNet's last convolutional block, `layer4`)."""

    def __init__(self, model: nn.Module, device: torch.device, layer: nn.Module | None = None) -> None:
        self._model = model.eval().to(device, torch.float32)
        self._device = device
        # Only the activations need gradients: frozen weights keep backward small and fast.
        for param in self._model.parameters():
            param.requires_grad_(False)
        self._layer = layer if layer is not None else _last_conv_block(model)
        # The forward hook lives on a shared module: one explanation at a time per model.
        self._lock = threading.Lock()

    def __call__(self, batch: torch.Tensor, class_index: int | None = None) -> CamResult:
        """One image [1, 3, S, S] -> the map for `class_index` (default: the predicted class)."""
        with self._lock, torch.enable_grad():
            activations, logits = self._forward(batch.to(self._device, torch.float32))
            probs = logits.detach().float().softmax(dim=1)[0]
            index = int(probs.argmax()) if class_index is None else class_index
            (grads,) = torch.autograd.grad(logits[0, index], activations)
        weights = grads[0].mean(dim=(1, 2))  # one weight per channel: its mean gradient
        cam = F.relu((weights[:, None, None] * activations[0].detach()).sum(dim=0))
        low, high = float(cam.min()), float(cam.max())
        scaled = (cam - low) / (high - low) if high - low > 1e-12 else torch.zeros_like(cam)
        return CamResult(scaled.cpu().numpy(), index, tuple(float(p) for p in probs))

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        captured: list[torch.Tensor] = []

        def keep(module: nn.Module, inputs: object, output: torch.Tensor) -> torch.Tensor:
            # Detach and re-attach: the graph starts here, so backward stops at this layer.
            leaf = output.detach().requires_grad_(True)
            captured.append(leaf)
            return leaf

        handle = self._layer.register_forward_hook(keep)
        try:
            logits = self._model(x)
        finally:
            handle.remove()
        return captured[0], logits


def heatmap_for_image(cam: np.ndarray, input_size: int, image_size: tuple[int, int]) -> np.ndarray:
    """Map a feature-grid CAM back onto an image of `image_size` through the letterbox geometry."""
    grid = torch.from_numpy(cam)[None, None].float()
    square = F.interpolate(grid, size=(input_size, input_size), mode="bilinear", align_corners=False)
    box = letterbox_geometry(image_size[0], image_size[1], input_size)
    content = square[:, :, box.top : box.top + box.height, box.left : box.left + box.width]
    width, height = image_size
    full = F.interpolate(content, size=(height, width), mode="bilinear", align_corners=False)
    return full[0, 0].clamp(0.0, 1.0).numpy()


class Explainer:
    """A checkpoint's own float32 copy with Grad-CAM: image bytes in, an explained picture out."""

    def __init__(self, gradcam: GradCam, meta: CheckpointMeta, limits: DecodeLimits) -> None:
        self._gradcam = gradcam
        self.meta = meta
        self._limits = DecodeLimits(limits.max_bytes, limits.max_pixels, max_frames=1)

    @classmethod
    def from_checkpoint(
        cls, path: Path, *, device: str = "cpu", limits: DecodeLimits | None = None
    ) -> Explainer:
        dev = select_device(device)
        model, meta = load_checkpoint(path, dev)
        return cls(GradCam(model, dev), meta, limits or DecodeLimits())

    def explain(self, data: bytes) -> Explanation:
        """InvalidImage for what the classifier would refuse; animations are explained on frame 1."""
        # Decode at render size or more: the JPEG draft shortcut must not cost the picture its detail.
        frame = decode_frames(data, self._limits, draft_size=RENDER_MAX_SIDE)[0]
        result = self._gradcam(to_tensor(frame, self.meta)[None])
        image = scaled_to_fit(frame, min_side=RENDER_MIN_SIDE, max_side=RENDER_MAX_SIDE)
        heatmap = heatmap_for_image(result.cam, self.meta.input_size, image.size)
        return Explanation(
            label=self.meta.classes[result.class_index],
            confidence=result.probabilities[result.class_index],
            heatmap=heatmap,
            image=image,
            model_version=self.meta.model_version,
        )


def _last_conv_block(model: nn.Module) -> nn.Module:
    if isinstance(model, torchvision.models.ResNet):
        return model.layer4
    raise ValueError(f"name the layer to explain: {type(model).__name__} is not a torchvision ResNet")
