"""Generation: one interface, two engines (vLLM on GPU, transformers elsewhere), shared record logic."""

from .engine import GenerationEngine, SamplingSettings
from .records import GenerationResult, generate_records

__all__ = ["GenerationEngine", "GenerationResult", "SamplingSettings", "generate_records"]
