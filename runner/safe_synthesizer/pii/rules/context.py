"""What templates see: the column descriptor, the per-cell seeded Faker and the job context."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from faker import Faker

from ..pseudonym import Pseudonymizer
from ..text import TextScanner

#: Faker members a template may not call: seeding/provider plumbing and bulk data generators.
FAKER_DENYLIST: frozenset[str] = frozenset(
    {
        "seed",
        "seed_instance",
        "seed_locale",
        "add_provider",
        "get_providers",
        "provider",
        "set_arguments",
        "get_arguments",
        "del_arguments",
        "set_formatter",
        "get_formatter",
        "format",
        "parse",
        "random",
        "factories",
        "weights",
        "locales",
        "items",
        "unique",
        "optional",
        "binary",
        "zip",
        "tar",
        "image",
        "xml",
        "json",
        "json_bytes",
        "csv",
        "tsv",
        "psv",
        "dsv",
        "fixed_width",
        "enum",
        "pystruct",
        "pylist",
        "pydict",
        "pyset",
        "pytuple",
        "pyiterable",
        "pyobject",
    }
)


def is_na(value: Any) -> bool:
    """True for None, NaN, NaT, pandas NA and blank strings."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(result) if isinstance(result, bool | np.bool_) else False


def to_python(value: Any) -> Any:
    """numpy scalars -> Python scalars; NA -> None."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value


@dataclass(frozen=True)
class ColumnInfo:
    """``column`` in templates: ``name``, ``entity``, ``type``, ``position``, ``dtype``, ``free_text``."""

    name: str
    entity: str | None
    type: str
    position: int
    dtype: str
    free_text: bool = False

    def __str__(self) -> str:
        return self.name


def faker_method_exists(locale: str, method: str) -> bool:
    """True when ``Faker(locale)`` has a public, callable ``method`` templates may use."""
    if method.startswith("_") or method in FAKER_DENYLIST:
        return False
    fake = _probe_faker(locale)
    try:
        return callable(getattr(fake, method))
    except (AttributeError, TypeError):
        return False


_PROBES: dict[str, Faker] = {}


def _probe_faker(locale: str) -> Faker:
    fake = _PROBES.get(locale)
    if fake is None:
        fake = _PROBES[locale] = Faker(locale)
    return fake


class CellFaker:
    """``fake`` in templates: Faker methods seeded per cell from the keyed hash of the cell's value.

    ``fake.name()`` therefore returns the same name for the same original value everywhere in the job
    (scope: the column's entity, else its name), and a different one under a different key.
    """

    __slots__ = ("_job", "_scope", "_seed_value")

    def __init__(self, job: JobContext, scope: str, seed_value: Any) -> None:
        self._job = job
        self._scope = scope
        self._seed_value = seed_value

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_") or method in FAKER_DENYLIST:
            raise AttributeError(method)
        job, scope, seed_value = self._job, self._scope, self._seed_value

        def call(*args: Any, **kwargs: Any) -> Any:
            return job.fake_call(scope, seed_value, method, args, kwargs)

        return call


@dataclass
class JobContext:
    """Shared state of one ``replace_pii`` run used by filters and the engine."""

    pseudonymizer: Pseudonymizer
    scanner: TextScanner
    seed: int
    locales: tuple[str, ...]
    globals_dict: dict[str, Any] = field(default_factory=dict)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def fake_call(self, scope: str, seed_value: Any, method: str, args: tuple[Any, ...], kwargs: dict) -> Any:
        """Call Faker ``method`` seeded from (key, scope, method, arguments, cell value)."""
        norm = "" if seed_value is None else str(seed_value).strip().casefold()
        fake = self.pseudonymizer.seeded_faker(scope, method, repr(args), repr(sorted(kwargs.items())), norm)
        func = getattr(fake, method)
        return func(*args, **kwargs)

    def cell_faker(self, column: ColumnInfo | None, this: Any) -> CellFaker:
        """The ``fake`` object for one cell."""
        scope = (column.entity or column.name) if column is not None else "-"
        return CellFaker(self, scope, this)
