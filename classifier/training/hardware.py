"""What a model was trained or measured on, for its checkpoint metadata and the model card."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch
import torchvision


def describe_hardware(device: torch.device, dtype: torch.dtype | None) -> dict[str, Any]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "device": str(device),
        "name": name,
        "cpu_count": os.cpu_count(),
        "precision": str(dtype or torch.float32).removeprefix("torch."),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
