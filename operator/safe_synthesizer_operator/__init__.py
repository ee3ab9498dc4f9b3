"""Kubernetes operator (kopf) for SafeSynthesizerJob resources. Never imports torch."""

__version__ = "0.1.0"
