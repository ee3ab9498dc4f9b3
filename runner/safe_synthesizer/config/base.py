"""Shared pieces of the configuration models: the base class and the ``"auto"`` sentinel types.

The models mirror NeMo Safe Synthesizer's parameter models so that users can paste their configs.
``"auto"`` is kept verbatim in a spec; :mod:`safe_synthesizer.autoconfig` resolves it from the data.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

AUTO = "auto"

Auto = Literal["auto"]
PositiveInt = Annotated[int, Field(gt=0)]
AutoPositiveInt = Auto | PositiveInt
AutoBool = Auto | bool


class Parameters(BaseModel):
    """Base of every config section: unknown fields are errors, defaults are validated too."""

    model_config = ConfigDict(
        extra="forbid",
        validate_default=True,
        validate_assignment=True,
        populate_by_name=True,
        use_enum_values=True,
    )


def is_auto(value: object) -> bool:
    """True when ``value`` is the ``"auto"`` sentinel."""
    return isinstance(value, str) and value == AUTO
