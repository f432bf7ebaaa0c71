"""``clickstream``: the command line, the top layer; it runs the definitions, nothing imports it."""

from clickstream_assets.cli.commands import main

__all__ = ["main"]
