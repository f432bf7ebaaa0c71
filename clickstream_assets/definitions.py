"""The one ``Definitions``: everything under ``defs/`` (one folder per layer), with the profile's resources.

``dg.load_from_defs_folder`` walks ``defs/`` and collects every asset, check, job, schedule and sensor defined at
module level there; nothing is listed by hand. ``workspace.yaml``, the Dockerfile and ``dagster api grpc`` load
``clickstream_assets.definitions:defs``.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from clickstream_assets.settings import load_settings
from resources.profile import build_resources


def build_definitions(resources: dict) -> dg.Definitions:
    """The layers under ``defs/`` bound to ``resources`` (a profile's set; ``settings`` added when missing)."""
    layers = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(layers, dg.Definitions(resources={"settings": load_settings(), **resources}))


defs = build_definitions(build_resources())
