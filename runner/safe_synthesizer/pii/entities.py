"""The entity vocabulary (NeMo Safe Synthesizer's names) and what each entity maps to.

Entity names follow NeMo's default list (``first_name`` ... ``credit_debit_card``) plus, detected by
default too, the types an identity export holds beyond it: ``iban``, ``ip_address``, ``url``,
``date_of_birth``, online identity (``user_name``, ``password``, ``api_key``, ``security_answer``,
``domain_name``), card data (``cvv``, ``card_expiry``), documents and vehicles
(``passport_number``, ``drivers_license``, ``license_plate``, ``vehicle_identifier``), bank
accounts (``account_number``), devices (``device_identifier``: MAC, IMEI, UUID, advertising ids),
places (``coordinate``) and identifier-like codes (``unique_identifier``). Names follow NVIDIA's
GLiNER-PII labels where one exists.
"""

from __future__ import annotations

from safe_synthesizer.config.replace_pii import DEFAULT_ENTITIES

#: Entities detected when ``globals.classify.entities`` / ``globals.ner.ner_entities`` are not given:
#: NeMo's 15 defaults plus the ones our validated recognisers add.
EXTRA_DEFAULT_ENTITIES: tuple[str, ...] = (
    "iban",
    "ip_address",
    "url",
    "date_of_birth",
    "user_name",
    "password",
    "api_key",
    "security_answer",
    "cvv",
    "card_expiry",
    "domain_name",
    "passport_number",
    "drivers_license",
    "license_plate",
    "vehicle_identifier",
    "account_number",
    "device_identifier",
    "coordinate",
    "unique_identifier",
)
DETECTED_BY_DEFAULT: tuple[str, ...] = DEFAULT_ENTITIES + EXTRA_DEFAULT_ENTITIES

#: Every entity name the package knows (rules may still name others; they then select nothing).
KNOWN_ENTITIES: frozenset[str] = frozenset(DETECTED_BY_DEFAULT)

#: ``"<entity>" | fake`` calls this Faker method (NeMo semantics: the Faker method for that entity).
ENTITY_FAKER_METHOD: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "name": "name",
    "street_address": "street_address",
    "city": "city",
    "state": "state",
    "postcode": "postcode",
    "address": "address",
    "phone_number": "phone_number",
    "fax_number": "phone_number",
    "email": "email",
    "ssn": "ssn",
    "national_id": "ssn",
    "tax_id": "itin",
    "credit_debit_card": "credit_card_number",
    "iban": "iban",
    "ip_address": "ipv4",
    "url": "url",
    "date_of_birth": "date_of_birth",
    "user_name": "user_name",
    "password": "password",
    "api_key": "sha256",
    "security_answer": "last_name",
    "cvv": "credit_card_security_code",
    "card_expiry": "credit_card_expire",
    "domain_name": "domain_name",
    "passport_number": "passport_number",
    "drivers_license": "bothify",
    "license_plate": "license_plate",
    "vehicle_identifier": "vin",
    "account_number": "bban",
    "device_identifier": "mac_address",
    "coordinate": "latitude",
    "unique_identifier": "uuid4",
}

#: presidio entity type -> ours. ``LOCATION`` is refined by value shape (state / street / city).
PRESIDIO_TO_ENTITY: dict[str, str] = {
    "PERSON": "name",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone_number",
    "US_SSN": "ssn",
    "US_ITIN": "tax_id",
    "US_PASSPORT": "national_id",
    "UK_NHS": "national_id",
    "CREDIT_CARD": "credit_debit_card",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "URL": "url",
    "LOCATION": "city",
}

#: Entities whose whole-cell original values are also searched for in free text (known values).
#: Short, common values (state, postcode, dates) are left out: they would match unrelated words.
KNOWN_VALUE_ENTITIES: frozenset[str] = frozenset(
    {
        "first_name",
        "last_name",
        "name",
        "street_address",
        "address",
        "city",
        "phone_number",
        "fax_number",
        "email",
        "ssn",
        "national_id",
        "tax_id",
        "credit_debit_card",
        "iban",
        "ip_address",
        "url",
        "user_name",
        "passport_number",
        "drivers_license",
        "license_plate",
        "vehicle_identifier",
        "account_number",
        "device_identifier",
        "unique_identifier",
    }
)

#: Column types (NeMo's ``describe_field``), usable in ``type`` selectors.
COLUMN_TYPES: tuple[str, ...] = ("empty", "binary", "numeric", "categorical", "text", "other")
