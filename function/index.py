"""Function Compute entry point (``Handler: index.handler``): see ``renewer/entry/handler.py``."""

from renewer.entry.handler import handler

__all__ = ["handler"]
