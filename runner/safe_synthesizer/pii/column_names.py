"""What a column's name says: the PII entity it suggests, in the naming styles real exports use.

Names are normalised first (``customerEmail-Address`` -> ``customer_email_address``, ``Straße`` ->
``strasse``, ``Téléphone`` -> ``telephone``, ``CVV2`` -> ``cvv_2``), then matched against token
patterns per entity, in English (snake_case, CamelCase, abbreviations such as ``dob``, ``ssn``,
``tel``, ``addr``, ``cc_num``, ``usr``, ``pwd``) and in common European languages (``nombre``,
``apellido``, ``telefono``, ``prénom``, ``Vorname``, ``Nachname``, ``Geburtsdatum``, ``cognome``,
``indirizzo``, ``naam`` ...), plus a few Japanese names. The first matching rule wins, so specific
rules (``mother_maiden_name``, ``ip_address``, ``card_expiry``) come before general ones (``name``,
``address``, ``card``). A token next to the match that says the column describes the value rather
than holding it (``email_verified``, ``card_type``, ``phone_country``) vetoes the hint.

:func:`name_hint` returns ``(entity, strength)``-free answers; :func:`hint_is_weak` tells the
classifier which hints are ambiguous (``state`` can be an account state, ``exp`` experience): those
need values that pass the entity's check, while every other hinted column is replaced even when its
values fail (fail closed).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_FOLD = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ł": "l", "Ł": "L", "œ": "oe"})


def normalise_column_name(name: str) -> str:
    """``customerEmail-Address`` -> ``customer_email_address``; accents folded; letters/digits split."""
    text = str(name).translate(_FOLD)
    text = re.sub(r"(?i)ipv([46])", r"ipv\1", text)  # keep IPv4/IPv6 in one piece
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z]{2})", "_", text)
    text = re.sub(r"(?<=[A-Za-z])(?=\d)(?!\d*(?:$|[^0-9])(?<=ipv4|ipv6))", "_", text)
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return text.replace("ipv_4", "ipv4").replace("ipv_6", "ipv6")


# Entity rules, tried in order: ``(entity, token patterns, exact words)``. Token patterns (words
# joined by ``_``; ``_?`` where exports write words together) match whole tokens anywhere in the
# name; exact words match only the whole name once qualifiers are stripped (``customer_``,
# ``home_``, ``_1`` ...), because short words (``first``, ``last``, ``user``, ``pin``, ``exp``) mean
# something else inside longer names (``first_purchase_date``, ``last_login``, ``user_id``).
_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "security_answer",
        r"security_?(question_?)?answer(_?\d)?|secret_?answer|sec_?answer|challenge_?answer|"
        r"(mother|mom|mum)s?_?maiden(_?name)?|maiden_?name|"
        r"(first|childhood)_?(pet|school|car|friend|street)(_?name)?|pet_?name|"
        r"memorable_?(word|place|name|answer|date)|"
        r"favou?rite_?(teacher|food|book|movie|film|colou?r|place|city|sport|band|singer)|"
        r"respuesta_?(secreta|seguridad|de_?seguridad)|reponse_?secrete|sicherheitsantwort|geheimantwort|"
        r"risposta_?segreta|(security|secret|sec|challenge|recovery|memorable|q|question)_?(q_?)?(ans|answer|resp|response)(_?\d)?|"
        r"(ans|answer)_?(security|secret|sec|q|question)(_?\d)?",
        r"mmn",
    ),
    (
        "api_key",
        r"api_?key|apikey|api_?secret|api_?token|secret_?key|client_?secret|private_?key|access_?key(_?id)?|"
        r"access_?token|auth_?token|bearer_?token|refresh_?token|session_?(token|key|cookie|secret)|"
        r"oauth_?token|aws_?secret(_?access_?key)?|webhook_?secret|signing_?key",
        r"token|secret|cookie|jwt|bearer|session_?id|auth",
    ),
    (
        "password",
        r"pass_?word(_?hash|_?digest|_?enc)?|passwd|pass_?phrase|pass_?code|pin_?number|"
        r"mot_?de_?passe|contrasena|contrasenya|pass_?wort|kennwort|parola_?d_?ordine|wachtwoord|senha|"
        r"haslo|losenord|passord|pw_?hash|pwd_?hash",
        r"pwd|pw|pin|otp|mdp|clave|parola|pass|passw",
    ),
    (
        "cvv",
        r"cvv_?2?|cvc_?2?|card_?verification(_?(code|value|number))?|card_?security_?code|security_?code|"
        r"codigo_?(de_?)?seguridad|cryptogramme(_?visuel)?|card_?cvv|card_?cvc",
        r"cvn|csc|cid|cvd",
    ),
    (
        "card_expiry",
        r"(card|cc|credit_?card)_?exp(iry|iration|ires)?(_?(date|dt|month_?year|mm_?yy(yy)?|mmyy|yymm))?|"
        r"exp(iry|iration)_?(date|dt|month_?year|mm_?yy(yy)?)|exp_?(date|dt|mm_?yy(yy)?|mmyy|month_?year)|"
        r"valid_?(thru|through|until)|good_?thru|ablaufdatum|gueltig_?bis|gultig_?bis|"
        r"fecha_?de_?(vencimiento|caducidad)|vencimiento|caducidad|date_?d_?expiration|scadenza|"
        r"vervaldatum|data_?de_?validade|validade",
        r"exp|expiry|expiration|expires|expiry_?mmyy",
    ),
    (
        "credit_debit_card",
        r"credit_?card(_?(number|no|num|nr))?|debit_?card(_?(number|no|num|nr))?|"
        r"card_?(number|no|num|nr|pan)|cc_?(number|no|num|nr)|ccn|ccnum|payment_?card(_?number)?|"
        r"primary_?account_?number|kredit_?karte(n_?nummer)?|karten_?nummer|numero_?(de_?)?tarjeta|"
        r"tarjeta_?(de_?)?(credito|debito)|carte_?(bancaire|de_?credit|bleue)|numero_?(de_?)?carte|"
        r"carta_?(di_?)?credito|creditcard(_?nummer)?|numero_?(do_?)?cartao|cartao_?(de_?)?credito",
        r"cc|pan|card|tarjeta|carte|carta|cartao|kreditkarte",
    ),
    ("iban", r"iban(_?(number|no|code|nr))?|bank_?account_?iban|iban_?account", r""),
    (
        "account_number",
        r"bank_?account(_?(number|no|num|nr))?|(account|acct|acc)_?(number|no|num|nr)|"
        r"routing_?(number|no)|sort_?code|konto_?nummer|kontonr|numero_?(de_?)?cuenta|cuenta_?bancaria|"
        r"numero_?de_?compte|conto_?corrente|rekening_?nummer|numer_?konta|bank_?details",
        r"bsb|aba|rib|konto|cuenta|rekening",
    ),
    (
        "ip_address",
        r"ip_?address|ip_?addr|ipaddress|ipaddr|ipv4|ipv6|ip_?v_?4|ip_?v_?6|remote_?addr(ess)?|"
        r"(client|src|dst|source|dest|destination|host|login|last|user|public|private|signup|registration|"
        r"origin|device|visitor|customer|last_?login|current|wan|lan)_?ip|ip|x_?forwarded_?for|"
        r"direccion_?ip|adresse_?ip|indirizzo_?ip|ip_?adresse",
        r"",
    ),
    (
        "device_identifier",
        r"mac_?(address|addr|id)|mac_?adresse|bssid|imei(_?\d)?|imsi|meid|iccid|udid|idfa|idfv|gaid|"
        r"advertising_?id|android_?id|device_?(id|identifier|uuid|serial|fingerprint|token|no)|"
        r"hardware_?id|hw_?id|machine_?id|serial_?(number|no|num|nr)|serialnumber|geraete_?id|"
        r"id_?dispositivo|browser_?fingerprint|push_?token",
        r"mac|ad_?id|device|uuid|guid",
    ),
    (
        "vehicle_identifier",
        r"vin_?(number|no|code|nr)|vehicle_?(id|identification(_?number)?|identifier|no)|"
        r"chassis(_?(number|no|nr))?|fahrgestell_?nummer|fin_?nummer|numero_?(de_?)?bastidor|"
        r"numero_?de_?chassis|numero_?(di_?)?telaio",
        r"vin|bastidor|telaio",
    ),
    (
        "license_plate",
        r"licen[cs]e_?plate(_?(number|no|nr))?|plate_?(number|no|num|nr)|number_?plate|"
        r"(car|vehicle|veh)_?(reg(istration)?|plate)(_?(number|no|nr))?|reg_?(number|no|plate|nr)|"
        r"registration_?plate|kennzeichen|nummernschild|amtliches_?kennzeichen|matricula|"
        r"immatriculation|plaque_?d_?immatriculation|kenteken|placa_?(do_?)?veiculo|rejestracja",
        r"plate|placa|targa|plaque|rego",
    ),
    (
        "drivers_license",
        r"drivers?_?licen[cs]e(_?(number|no|num|nr|id))?|driver_?s_?licen[cs]e(_?(number|no|num|nr|id))?|"
        r"driving_?licen[cs]e(_?(number|no|num|nr))?|drivers?_?lic(_?(number|no|num|nr))?|"
        r"dl_?(number|no|num|nr|id)|licen[cs]e_?(number|no|num|nr|id)|lic_?(no|num|nr)|"
        r"fuehrerschein(_?nummer)?|fuhrerschein(_?nummer)?|permis_?de_?conduire|licencia_?de_?conducir|"
        r"carnet_?de_?conducir|patente_?di_?guida|rijbewijs(_?nummer)?|carteira_?de_?motorista|"
        r"prawo_?jazdy",
        r"dl|permis|licencia|patente|cnh|license|licence|rijbewijs|fuhrerschein|fuehrerschein",
    ),
    (
        "passport_number",
        r"passport(_?(number|no|num|nr|id))?|pasaporte|passeport|reise_?pass(_?nummer)?|passaporto|"
        r"paspoort(_?nummer)?|passaporte|pass_?(no|nr|num|number)|paszport",
        r"",
    ),
    (
        "ssn",
        r"ssn|ss_?(no|num|number)|social_?security(_?(number|no|num|nr))?|soc_?sec(_?(number|no|num))?",
        r"",
    ),
    (
        "tax_id",
        r"tax_?id|itin|vat_?(id|number|no|nr)|taxpayer_?id|tax_?(number|no|nr|code|file_?number|identifier)|"
        r"tfn|tax_?file(_?number)?|pan_?(number|no|card)|nif|steuer_?(id|nummer|identifikationsnummer|nr)|"
        r"steueridentifikationsnummer|st_?id_?nr|ust_?id(_?nr)?|numero_?fiscal|codice_?fiscale|"
        r"cod_?fisc(ale)?|partita_?iva|cpf|cnpj|gstin|numero_?contribuyente|nip|regon",
        r"tin|ein|rfc|cif|abn|gst|utr|vat",
    ),
    (
        "national_id",
        r"national_?id(entifier|_?(number|no|num|nr))?|nat_?id|nino|ni_?(number|no|num)|"
        r"national_?insurance(_?(number|no))?|sin_?(number|no)|social_?insurance(_?(number|no))?|"
        r"aadhaa?r(_?(number|no|num|id))?|uidai|dni|nie|insee|(numero_?(de_?)?)?securite_?sociale|"
        r"personalausweis(_?nummer)?|ausweis(_?nummer)?|id_?card(_?(number|no))?|"
        r"identity_?(number|card|no|document|doc)|identification_?(number|no)|id_?(number|no|num|nr|doc)|"
        r"documento_?(de_?)?identidad|num(ero)?_?(de_?)?documento|carte_?d_?identite|"
        r"carta_?d_?identita|bsn|burger_?service_?nummer|pesel|personnummer|personal_?(id|number|code|no)|"
        r"my_?number|kojin_?bango|citizen_?id|resident_?id|nric|hkid|cedula|curp|henkilotunnus|"
        r"fodselsnummer|sozialversicherungs_?nummer|versicherungs_?nummer|medicare_?(number|no)|"
        r"nhs_?(number|no)|health_?(card|insurance)_?(number|no)|govt_?id|government_?id|gov_?id|"
        r"state_?id|id_?document|identity",
        r"nid|nin|sin|nir|secu|nss|cni|rg|cpr|svnr|documento|medicare|nhs|dni|nie",
    ),
    (
        "date_of_birth",
        r"dob|d_o_b|birth_?date|date_?of_?birth|birthdate|birthday|born_?on|birth_?(dt|day)|bday|b_?day|"
        r"geburts_?datum|geb_?datum|geburtstag|fecha_?(de_?)?nac(imiento)?|f_?nac(imiento)?|nacimiento|"
        r"date_?(de_?)?naissance|data_?(di_?)?nascita|data_?(de_?)?nascimento|dt_?nasc(imento)?|"
        r"nascimento|geboorte_?datum|fodelse_?datum|data_?urodzenia|naissance",
        r"born|birth|geb|ddn",
    ),
    (
        "domain_name",
        r"domain_?name|host_?name|hostname|fqdn|email_?domain|web_?domain|website_?domain|company_?domain|"
        r"server_?name|nome_?dominio|nom_?de_?domaine",
        r"domain|host|dominio|domaine|domein",
    ),
    (
        "email",
        r"e_?mail(_?(address|addr|id|adresse|adres|adresa))?|email_?address|mail_?(address|addr|adresse)|"
        r"correo(_?electronico)?|courriel|adresse_?(e_?mail|mail|electronique)|posta_?elettronica|"
        r"e_?post_?adresse|endereco_?(de_?)?email",
        r"mail|epost|e_?post|correo",
    ),
    ("fax_number", r"fax(_?(number|no|num|nr))?|telefax|fax_?nummer", r""),
    (
        "phone_number",
        r"phone(_?(number|no|num|nr))?|telephone|telefon(o|e)?(_?(nummer|number|no|nr))?|"
        r"telefoon(_?nummer)?|tel_?(no|num|nr|number)|ph_?(no|num)|mobile(_?(number|no|nr|phone))?|"
        r"mobil_?(nummer|nr|no)|movil|celular|cellulare|cellphone|cell_?phone|cell_?(no|number|nr)|"
        r"handy_?nummer|msisdn|contact_?(number|no|num|phone|tel)|rufnummer|landline|whats_?app|"
        r"numero_?(de_?)?(telefono|telephone|telefone|celular|movil|portable)|num_?tel|n_?tel|"
        r"n_?de_?telephone|telefonino|numer_?telefonu|recapito_?telefonico|mobiel(_?nummer)?|gsm",
        r"tel|tlf|mob|cel|cell|handy|portable|mobil|telf",
    ),
    (
        "postcode",
        r"zip(_?code)?|zipcode|zip_?4|zip_?plus_?4|post_?code|postal_?code|postalcode|plz|postleitzahl|"
        r"codigo_?postal|cod_?postal|code_?postal|codice_?postale|postnummer|postnr|pin_?code|pincode|"
        r"eircode|kod_?pocztowy|postcode",
        r"cp|cap|cep|zip|npa",
    ),
    (
        "city",
        r"city|town|municipality|locality|wohnort|stadt|ciudad|ville|citta|cidade|localidad|localite|"
        r"poblacion|municipio|comune|gemeente|woonplaats|miasto|place_?of_?birth|birth_?place|birthplace|"
        r"lieu_?de_?naissance|lugar_?de_?nacimiento|geburtsort|luogo_?di_?nascita|home_?town|hometown|"
        r"suburb|localita|city_?of_?birth",
        r"ort|plaats|ciudad|citta|ville",
    ),
    (
        "state",
        r"state|province|state_?code|state_?abbr|state_?province|region_?code|bundesland|provincia|"
        r"prefecture|departement",
        r"",
    ),
    (
        "street_address",
        r"street(_?(address|addr|name|line|no|number))?|address_?line(_?\d)?|address_?\d|addr_?\d|"
        r"addr_?line(_?\d)?|line_?1|strasse|hausnummer|hausnr|house_?(number|no|nr)|logradouro|"
        r"straat(naam)?|huisnummer|ulica|via_?e_?civico|numero_?civico|numero_?(de_?)?rue|strasse_?nr",
        r"addr|str|rue|calle|rua|via|street",
    ),
    (
        "address",
        r"address|full_?address|mailing_?address|postal_?address|home_?address|billing_?address|"
        r"shipping_?address|delivery_?address|residential_?address|adresse(_?postale)?|"
        r"direccion(_?postal)?|domicilio|indirizzo|endereco|anschrift|adres|wohn_?adresse|"
        r"liefer_?adresse|rechnungs_?adresse|adresa",
        r"residence|domicile",
    ),
    (
        "user_name",
        r"user_?name|usr_?name|user_?login|login_?(name|id)|screen_?name|nick_?name|account_?name|"
        r"benutzer_?name|nombre_?de_?usuario|nome_?utente|gebruikersnaam|twitter_?handle|social_?handle|"
        r"user_?handle|skype_?id|gamertag|member_?name|login_?user",
        r"usr|user|login|handle|nick|nickname|benutzer|usuario|utilisateur|identifiant|gebruiker|alias|"
        r"twitter|instagram|tiktok|username|uname",
    ),
    (
        "url",
        r"url|uri|website|web_?site|homepage|home_?page|web_?page|profile_?(url|link)|linked_?in(_?url)?|"
        r"facebook_?url|sitio_?web|site_?web|pagina_?web|webseite|social_?profile|avatar_?url|photo_?url",
        r"link|linkedin|facebook|site",
    ),
    (
        "coordinate",
        r"latitude|longitude|geo_?(lat|lon|lng|location|point|coords?)|coordinates?|gps_?(coords?|location)|"
        r"lat_?long|lat_?lng|latlng|latlon|breitengrad|laengengrad|langengrad|latitud|longitud|lat|lng|lon",
        r"long|geo|gps|coords|position|location_?coordinates",
    ),
    (
        "first_name",
        r"first_?name|fname|f_name|given_?names?|givenname|forename|christian_?name|vorname|"
        r"primer_?nombre|prenoms?|primo_?nome|voornaam|fornavn|fornamn|etunimi|keresztnev|jmeno|"
        r"middle_?name|nombre_?de_?pila",
        r"first|nombre|nombres|nome|imie|given",
    ),
    (
        "last_name",
        r"last_?name|lname|l_name|surnames?|sur_?name|family_?name|familyname|nachname|familienname|"
        r"apellidos?|primer_?apellido|segundo_?apellido|nom_?de_?famille|nom_?famille|cognome|sobrenome|"
        r"achternaam|nazwisko|efternamn|etternavn|sukunimi|prijmeni|birth_?name",
        r"last|nom|apelido",
    ),
    (
        "name",
        r"full_?name|fullname|nombre_?completo|nom_?complet|nom_?prenom|prenom_?nom|nome_?completo|"
        r"vollstaendiger_?name|vollstandiger_?name|name_?vollstaendig|volledige_?naam|imie_?i_?nazwisko|"
        r"contact_?person|kontakt_?person|ansprechpartner|card_?holder(_?name)?|cardholder(_?name)?|"
        r"account_?holder(_?name)?|policy_?holder|policyholder|emergency_?contact(_?name)?|"
        r"next_?of_?kin|nombre_?y_?apellidos?|"
        r"(customer|client|patient|person|contact|employee|member|owner|applicant|holder|beneficiary|"
        r"student|driver|guest|passenger|recipient|sender|subscriber|buyer|seller|tenant|insured|"
        r"physician|doctor|nurse|agent|rep|spouse|guardian|parent|mother|father|manager|supervisor|"
        r"teacher|landlord|witness|signer|kunden|cliente)_?name",
        r"name|naam|titular|cardholder|beneficiary|insured|policyholder|payee|payer|recipient|addressee|"
        r"signatory|contact|customer|client|patient|person|persona|personne|kunde|cliente|employee|"
        r"applicant|passenger|tenant|spouse|guardian|owner|holder|nominativo|nombre_?apellido",
    ),
)

#: Entities whose hint is always ambiguous: replaced only when the values pass the entity's check.
WEAK_HINTS: frozenset[str] = frozenset({"state"})
#: Exact words that give only a weak hint (a ``customer`` column may hold ids, ``card`` a brand).
_WEAK_WORDS: frozenset[str] = frozenset(
    {
        "card",
        "cc",
        "carte",
        "carta",
        "tarjeta",
        "cartao",
        "host",
        "link",
        "site",
        "user",
        "login",
        "handle",
        "alias",
        "token",
        "cookie",
        "secret",
        "auth",
        "first",
        "last",
        "nom",
        "nome",
        "customer",
        "client",
        "contact",
        "person",
        "patient",
        "employee",
        "payer",
        "payee",
        "recipient",
        "passenger",
        "tenant",
        "applicant",
        "owner",
        "holder",
        "cliente",
        "kunde",
        "persona",
        "personne",
        "cid",
        "rg",
        "nid",
        "sin",
        "pin",
        "pw",
        "pass",
        "dl",
        "cap",
        "cp",
        "ort",
        "str",
        "rue",
        "via",
        "calle",
        "rua",
        "mob",
        "cel",
        "cell",
        "portable",
        "birth",
        "born",
        "residence",
        "domicile",
        "secu",
        "clave",
        "parola",
        "pan",
        "long",
        "geo",
        "gps",
        "position",
        "domain",
        "mail",
        "mac",
        "aba",
        "rib",
        "rfc",
        "tin",
        "ein",
        "cif",
        "gst",
        "vat",
        "plate",
        "placa",
        "targa",
        "plaque",
        "nss",
        "cni",
        "abn",
        "utr",
        "vin",
        "device",
        "uuid",
        "guid",
        "license",
        "licence",
        "licencia",
        "patente",
        "permis",
        "exp",
        "expires",
        "konto",
        "cuenta",
        "session_id",
        "documento",
        "nombre",
        "nombres",
        "given",
        "nick",
        "otp",
        "mdp",
        "cvd",
    }
)

#: Leading words that only say whose value it is (``customer_email``, ``home_phone``).
_QUALIFIERS: frozenset[str] = frozenset(
    {
        "customer",
        "cust",
        "client",
        "user",
        "usr",
        "member",
        "patient",
        "contact",
        "primary",
        "secondary",
        "home",
        "work",
        "personal",
        "private",
        "business",
        "main",
        "alt",
        "alternate",
        "alternative",
        "other",
        "current",
        "cur",
        "new",
        "old",
        "prev",
        "previous",
        "billing",
        "bill",
        "shipping",
        "ship",
        "mailing",
        "emergency",
        "account",
        "acct",
        "holder",
        "owner",
        "employee",
        "emp",
        "applicant",
        "student",
        "guest",
        "my",
        "the",
        "registered",
        "reg",
        "default",
        "preferred",
        "pref",
        "buyer",
        "seller",
        "sender",
        "recipient",
        "insured",
        "spouse",
        "parent",
        "kunde",
        "cliente",
        "utente",
        "person",
        "profile",
        "p",
        "c",
        "u",
        "x",
        "raw",
        "orig",
        "original",
        "enc",
        "encrypted",
        "plain",
        "cleartext",
    }
)
#: Trailing words that only say how the value is written (``email_1``, ``phone_nr``, ``pin_value``).
_TRAILERS: frozenset[str] = frozenset(
    {
        "no",
        "nr",
        "num",
        "number",
        "value",
        "val",
        "txt",
        "text",
        "raw",
        "orig",
        "original",
        "str",
        "string",
        "field",
        "col",
        "data",
        "info",
        "enc",
        "encrypted",
        "hash",
        "hashed",
        "plain",
        "clear",
        "code",
        "cleartext",
        "1",
        "2",
        "3",
        "4",
    }
)

#: Tokens that say the column describes a value instead of holding it (``email_verified``).
_VETO = frozenset(
    {
        "type",
        "types",
        "kind",
        "category",
        "cat",
        "count",
        "cnt",
        "flag",
        "is",
        "has",
        "verified",
        "validated",
        "valid",
        "validity",
        "status",
        "format",
        "fmt",
        "len",
        "length",
        "country",
        "consent",
        "optin",
        "opt",
        "source",
        "provider",
        "changed",
        "updated",
        "created",
        "modified",
        "score",
        "confidence",
        "quality",
        "bounced",
        "bounce",
        "present",
        "missing",
        "required",
        "enabled",
        "language",
        "lang",
        "locale",
        "currency",
        "brand",
        "network",
        "issuer",
        "template",
        "label",
        "policy",
        "strength",
        "reset",
        "last4",
        "first6",
        "prefix",
        "suffix",
        "extension",
        "ext",
        "mask",
        "masked",
        "pattern",
        "regex",
        "hint",
        "question",
        "attempts",
        "attempt",
        "expired",
        "ttl",
        "age",
        "days",
        "nb",
        "total",
        "rate",
        "ratio",
        "pct",
        "percent",
        "share",
        "avg",
        "mean",
        "sum",
        "min",
        "max",
        "distance",
        "radius",
        "accuracy",
        "precision",
        "color",
        "colour",
        "size",
        "font",
        "width",
        "height",
        "style",
        "group",
        "segment",
        "tier",
        "level",
        "plan",
        "visibility",
        "public",
        "match",
        "matched",
        "duration",
        "lookup",
        "region",
        "zone",
        "timezone",
        "tz",
        "model",
        "make",
        "os",
        "version",
        "year",
        "years",
        "month",
        "months",
        "at",
        "ts",
        "timestamp",
        "time",
        "date",
        "dt",
        "since",
        "until",
        "count_of",
        "domain",
        "verify",
        "verification",
        "confirmed",
        "unsubscribed",
        "subscribed",
        "preference",
        "preferences",
        "allowed",
    }
)
#: Tokens that veto every entity but a date one (``email_date`` is a date, ``birth_date`` is one).
_DATE_TOKENS = frozenset({"at", "ts", "timestamp", "time", "date", "dt", "since", "until", "year", "month"})
_DATE_ENTITIES = frozenset({"date_of_birth", "card_expiry"})

_JAPANESE: tuple[tuple[str, str], ...] = (
    ("生年月日", "date_of_birth"),
    ("誕生日", "date_of_birth"),
    ("メールアドレス", "email"),
    ("メール", "email"),
    ("電話番号", "phone_number"),
    ("携帯", "phone_number"),
    ("電話", "phone_number"),
    ("郵便番号", "postcode"),
    ("住所", "address"),
    ("マイナンバー", "national_id"),
    ("個人番号", "national_id"),
    ("氏名", "name"),
    ("名前", "name"),
    ("市区町村", "city"),
    ("都道府県", "state"),
    ("姓", "last_name"),
    ("名", "first_name"),
)

_COMPILED: tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...] = tuple(
    (
        entity,
        re.compile(r"(?:^|_)(?:" + tokens + r")(?=_|$)"),
        re.compile(r"^(?:" + exact + r")$") if exact else None,
    )
    for entity, tokens, exact in _RULES
)

_NOT_PERSON_NAME = re.compile(
    r"(^|_)(product|company|business|file|host|domain|user|username|brand|item|street|city|state|country|"
    r"bank|org|organization|organisation|dept|department|app|device|model|category|event|project|team|"
    r"table|column|field|display|screen|nick|store|shop|merchant|vendor|hospital|school|drug|class|type|"
    r"plan|campaign|course|program|service|package|feature|job|role|title|account|pet|maiden|server|"
    r"database|db|schema|queue|topic|bucket|branch|site|region|zone|product|brand|item|sku|tag|"
    r"list|folder|page|template|report|task|group|channel|artist|song|album|book|movie|game)(_|$)"
)


def _tokens_outside(norm: str, start: int, end: int) -> list[str]:
    return [t for t in (norm[:start] + "_" + norm[end:]).split("_") if t]


def _core(norm: str) -> str:
    """``home_phone_1`` -> ``phone``: the name without qualifiers (kept when nothing else is left)."""
    tokens = [t for t in norm.split("_") if t]
    while len(tokens) > 1 and tokens[-1] in _TRAILERS:
        tokens.pop()
    while len(tokens) > 1 and tokens[0] in _QUALIFIERS:
        tokens.pop(0)
    return "_".join(tokens)


@lru_cache(maxsize=4096)
def _match(column: str) -> tuple[str, bool] | None:
    raw = str(column)
    if any(ord(c) > 0x2E80 for c in raw):  # CJK names
        for word, entity in _JAPANESE:
            if word in raw:
                return entity, False
    norm = normalise_column_name(raw)
    if not norm:
        return None
    core = _core(norm)
    for entity, tokens, exact in _COMPILED:
        if exact is not None and (exact.match(core) or exact.match(norm)):
            weak = norm in _WEAK_WORDS or entity in WEAK_HINTS
            return entity, weak
        m = tokens.search(norm)
        if not m:
            continue
        rest = _tokens_outside(norm, m.start(), m.end())
        vetoes = _VETO - _DATE_TOKENS if entity in _DATE_ENTITIES else _VETO
        if any(t in vetoes for t in rest):
            continue
        if entity == "address" and re.search(r"(^|_)(email|e_mail|ip|mac|web|url)(_|$)", norm):
            continue
        if entity == "name" and _NOT_PERSON_NAME.search(norm):
            continue
        return entity, entity in WEAK_HINTS
    if norm.endswith("_name") and not _NOT_PERSON_NAME.search(norm):
        return "name", False
    return None


def name_hint(column: str) -> str | None:
    """The entity a column name suggests, if any (the first matching rule wins)."""
    found = _match(column)
    return found[0] if found else None


def hint_is_weak(column: str) -> bool:
    """True when the name's hint is ambiguous: replace only if the values pass the entity's check."""
    found = _match(column)
    return bool(found and found[1])
