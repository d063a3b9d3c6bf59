"""Function Compute entry point (``Handler: index.handler``): see ``renewer/handler.py``."""

from renewer.handler import handler

__all__ = ["handler"]
