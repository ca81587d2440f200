"""A real ResNet101 checkpoint whose weights make its verdict a known function of brightness.

Random weights give random verdicts, which cannot test behaviour. Here every residual branch
is zeroed (each block passes its input through), the stem averages the pixels into channel 0,
and the head compares that one feature with mid-grey: bright images are memes, dark ones are
not, and mid-tones are uncertain. The whole real model code path still runs.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from classifier.model import CheckpointMeta, build_model, save_checkpoint

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
STEM_BIAS = 3.0  # keeps the averaged, normalised pixels positive through the ReLUs


def _identity_bn(bn: nn.BatchNorm2d, bias: float = 0.0, scale: float = 1.0) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.constant_(bn.bias, bias)
    nn.init.zeros_(bn.running_mean)
    nn.init.ones_(bn.running_var)


@torch.no_grad()
def brightness_model(gain: float = 4.0) -> nn.Module:
    model = build_model("resnet101", 2)
    model.conv1.weight.fill_(1.0 / (3 * 7 * 7))
    _identity_bn(model.bn1, bias=STEM_BIAS)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in layer:
            _identity_bn(block.bn3, scale=0.0)  # residual branch off: the block passes x through
            if block.downsample is not None:
                conv, bn = block.downsample
                conv.weight.zero_()
                conv.weight[0, 0] = 1.0  # carry channel 0 across the width change
                _identity_bn(bn)
    mid = STEM_BIAS + sum((0.5 - m) / s for m, s in zip(MEAN, STD, strict=True)) / 3
    model.fc.weight.zero_()
    model.fc.weight[0, 0], model.fc.weight[1, 0] = gain, -gain
    model.fc.bias[0], model.fc.bias[1] = -gain * mid, gain * mid
    return model.eval()


def brightness_checkpoint(path: Path, *, input_size: int = 64, version: str = "brightness-test") -> Path:
    meta = CheckpointMeta(
        classes=("meme", "not_meme"), input_size=input_size, mean=MEAN, std=STD, model_version=version
    )
    return save_checkpoint(brightness_model(), meta, path)


def grey_jpeg(level: int, size: tuple[int, int] = (96, 96), *, noise_seed: int | None = None) -> bytes:
    """A square JPEG of one grey level (0 black .. 255 white); bright = meme to the model above."""
    image = Image.new("RGB", size, (level, level, level))
    if noise_seed is not None:  # distinct bytes (distinct sha256) with the same verdict
        image.putpixel((noise_seed % size[0], (noise_seed // size[0]) % size[1]), (255 - level,) * 3)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def meme_jpeg(seed: int = 0) -> bytes:
    return grey_jpeg(245, noise_seed=seed)


def not_meme_jpeg(seed: int = 0) -> bytes:
    return grey_jpeg(10, noise_seed=seed)
