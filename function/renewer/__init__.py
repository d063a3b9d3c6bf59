"""BYOK Renewer: keeps imported KMS key material from expiring by re-importing it on schedule."""

__version__ = "0.1.0"
