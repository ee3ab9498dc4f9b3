"""Job configuration models (pydantic v2). Importing this package never imports torch."""

from .base import AUTO, is_auto
from .job import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    Condition,
    Progress,
    ResultRef,
    S3Settings,
    SafeSynthesizerJob,
    SafeSynthesizerJobSpec,
    SafeSynthesizerJobStatus,
    Scores,
)
from .loader import ConfigError, FieldError, load_job_or_config, parse_document, read_documents
from .parameters import (
    DEFAULT_PRETRAINED_MODEL,
    DataParameters,
    DifferentialPrivacyHyperparams,
    EvaluationParameters,
    GenerateParameters,
    SafeSynthesizerParameters,
    TimeSeriesParameters,
    TrainingHyperparams,
)
from .replace_pii import PiiReplacerConfig

__all__ = [
    "API_VERSION",
    "AUTO",
    "DEFAULT_PRETRAINED_MODEL",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Condition",
    "ConfigError",
    "DataParameters",
    "DifferentialPrivacyHyperparams",
    "EvaluationParameters",
    "FieldError",
    "GenerateParameters",
    "PiiReplacerConfig",
    "Progress",
    "ResultRef",
    "S3Settings",
    "SafeSynthesizerJob",
    "SafeSynthesizerJobSpec",
    "SafeSynthesizerJobStatus",
    "SafeSynthesizerParameters",
    "Scores",
    "TimeSeriesParameters",
    "TrainingHyperparams",
    "is_auto",
    "load_job_or_config",
    "parse_document",
    "read_documents",
]
