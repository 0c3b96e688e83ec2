"""The in-memory dataset every recipe trains on (edge.datasets: shared with the converter and benchmarks)."""

from __future__ import annotations

from edge.cache import cache_dir
from edge.datasets import Dataset, stratified_sample, stratified_split

__all__ = ["Dataset", "cache_dir", "stratified_sample", "stratified_split"]
