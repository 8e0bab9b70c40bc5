"""CME data-governance backend: configuration, composition root and command line."""

__version__ = "0.1.0"
