"""Safe Synthesizer: private synthetic tabular data (PII replacement, LoRA fine-tuning, DP-SGD, evaluation)."""

__version__ = "0.1.0"
