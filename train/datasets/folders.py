"""Any image folder as a dataset: `class_name/*.png|jpg`, optionally under Train/, Validation/ and Test/.

The reading lives in edge.datasets, so the converter reads a user's folder exactly as training does.
"""

from __future__ import annotations

from edge.datasets import IMAGE_SUFFIXES, load_image_folder

__all__ = ["IMAGE_SUFFIXES", "load_image_folder"]
