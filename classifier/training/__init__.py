"""Training data for the meme classifier: `build_dataset` and the manifest that training reads.

A leaf package: it imports nothing from bot/ or storage/. See dataset.py for the build steps,
normalise.py for the size rule every stored image goes through, and manifest.py for the formats.
"""

from __future__ import annotations

from classifier.training.dataset import DatasetError, Manifest, build_dataset
from classifier.training.manifest import ManifestError, ManifestRow, read_folder_rows, read_manifest
from classifier.training.plan import SynthCounts

__all__ = [
    "DatasetError",
    "Manifest",
    "ManifestError",
    "ManifestRow",
    "SynthCounts",
    "build_dataset",
    "read_folder_rows",
    "read_manifest",
]
