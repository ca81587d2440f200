"""An independent NumPy forward pass of a Keras h5 model, straight from its graph JSON and weights.

It shares nothing with the torch port (no layer mapping, no transposes into torch layouts): it walks
the Keras layers in the file's own order, in Keras' NHWC layout, with TensorFlow's 'same' padding
rules, in float64. The converted torch model must agree with it.

`python -m tests.imaging.keras_numpy HDF5` rewrites the committed reference outputs
(tests/imaging/data/emotion_reference.npz) so CI without ../shared still checks the torch weights.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

REFERENCE = Path(__file__).parent / "data" / "emotion_reference.npz"
Array = np.ndarray
Weights = dict[str, Array]


def load_keras(path: Path) -> tuple[list[dict[str, Any]], dict[str, Weights]]:
    import h5py

    with h5py.File(path, "r") as f:
        layers = json.loads(f.attrs["model_config"])["config"]["layers"]
        weights = {}
        for layer in layers:
            group = f["model_weights"][layer["name"]]
            names = [n.decode() for n in group.attrs["weight_names"]]
            weights[layer["name"]] = {n.rsplit("/", 1)[-1].split(":")[0]: np.asarray(group[n]) for n in names}
    return layers, weights


def _pad_same(x: Array, kernel: int, stride: int, value: float) -> Array:
    pads = []
    for size in x.shape[:2]:
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [*pads, (0, 0)], constant_values=value)


def _windows(x: Array, cfg: dict[str, Any], value: float = 0.0) -> Array:
    """[H, W, C] -> [Ho, Wo, C, kh, kw] windows after Keras padding and striding."""
    k = (cfg.get("kernel_size") or cfg["pool_size"])[0]
    s = cfg["strides"][0]
    if cfg["padding"] == "same":
        x = _pad_same(x, k, s, value)
    return sliding_window_view(x, (k, k), axis=(0, 1))[::s, ::s]


def conv2d(x: Array, w: Weights, cfg: dict[str, Any]) -> Array:
    y = np.einsum("hwcij,ijco->hwo", _windows(x, cfg), w["kernel"].astype(np.float64))
    return y + w["bias"] if "bias" in w else y


def separable_conv2d(x: Array, w: Weights, cfg: dict[str, Any]) -> Array:
    depth = np.einsum("hwcij,ijc->hwc", _windows(x, cfg), w["depthwise_kernel"][:, :, :, 0])
    return np.einsum("hwc,co->hwo", depth, w["pointwise_kernel"][0, 0].astype(np.float64))


def batch_norm(x: Array, w: Weights, cfg: dict[str, Any]) -> Array:
    scale = w["gamma"] / np.sqrt(w["moving_variance"].astype(np.float64) + cfg["epsilon"])
    return (x - w["moving_mean"]) * scale + w["beta"]


def activation(x: Array, w: Weights, cfg: dict[str, Any]) -> Array:
    if cfg["activation"] == "relu":
        return np.maximum(x, 0.0)
    if cfg["activation"] == "softmax":
        e = np.exp(x - x.max())
        return e / e.sum()
    raise NotImplementedError(cfg["activation"])


def max_pool(x: Array, w: Weights, cfg: dict[str, Any]) -> Array:
    return _windows(x, cfg, value=-np.inf).max(axis=(3, 4))


LAYERS: dict[str, Callable[[Array, Weights, dict[str, Any]], Array]] = {
    "Conv2D": conv2d,
    "SeparableConv2D": separable_conv2d,
    "BatchNormalization": batch_norm,
    "Activation": activation,
    "MaxPooling2D": max_pool,
    "GlobalAveragePooling2D": lambda x, w, cfg: x.mean(axis=(0, 1)),
}


def forward(layers: list[dict[str, Any]], weights: dict[str, Weights], image: Array) -> Array:
    """One [H, W, 1] float image -> the model's output, layer by layer in the file's graph order."""
    outputs: dict[str, Array] = {}
    for layer in layers:
        name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
        inputs = [outputs[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        if kind == "InputLayer":
            outputs[name] = image.astype(np.float64)
        elif kind == "Add":
            outputs[name] = sum(inputs[1:], inputs[0])
        else:
            outputs[name] = LAYERS[kind](inputs[0], weights[name], cfg)
    return outputs[layers[-1]["name"]]


def reference_inputs() -> Array:
    """A few uint8 64x64 faces-or-not: noise, a gradient and a blob face, fixed by a seed."""
    rng = np.random.default_rng(6)
    noise = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    yy, xx = np.mgrid[0:64, 0:64]
    gradient = ((xx + yy) * 2).clip(0, 255).astype(np.uint8)
    blob = 200 - 120 * (((xx - 32) / 22.0) ** 2 + ((yy - 34) / 28.0) ** 2 < 1)
    for cx in (23, 41):  # eyes
        blob[(xx - cx) ** 2 + (yy - 28) ** 2 < 12] = 20
    blob[(abs(xx - 32) < 9) & (abs(yy - 46) < 2)] = 30  # mouth
    return np.stack([noise, gradient, blob.astype(np.uint8)])


def probabilities(layers: list[dict[str, Any]], weights: dict[str, Weights], faces: Array) -> Array:
    scaled = faces.astype(np.float64) / 255.0 * 2.0 - 1.0  # the model's training scaling
    return np.stack([forward(layers, weights, face[:, :, None]) for face in scaled])


def main(argv: list[str]) -> int:
    layers, weights = load_keras(Path(argv[0]))
    faces = reference_inputs()
    np.savez_compressed(REFERENCE, faces=faces, probabilities=probabilities(layers, weights, faces))
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
