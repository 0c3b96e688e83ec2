"""The one base for every config and data model: a key the model lacks is an error, never silently ignored.

A typo in a kiosk YAML, a profile or a manifest (`treshold: 0.5`) would otherwise fall back to the default
without a word. Settings that describe a file on disk (manifests, detector catalogs) or a running component
(detector and tracker settings) are also frozen, so nothing mutates them after validation.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Unknown keys rejected; for configs a user edits."""

    model_config = ConfigDict(extra="forbid")


class FrozenModel(StrictModel):
    """Strict and immutable; fields may be given by alias or by name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
