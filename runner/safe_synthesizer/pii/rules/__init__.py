"""The NeMo-compatible rule language: template sandbox, filters, step engine and static validation."""

from .engine import ColumnMeta, RuleEngine
from .sandbox import FILTER_NAMES, PiiSandbox, job_environment
from .validate import validate_config

__all__ = ["FILTER_NAMES", "ColumnMeta", "PiiSandbox", "RuleEngine", "job_environment", "validate_config"]
