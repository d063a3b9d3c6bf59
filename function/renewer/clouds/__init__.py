"""Cloud adapters: each speaks its own SDK and owns its error codes and wire encodings."""
