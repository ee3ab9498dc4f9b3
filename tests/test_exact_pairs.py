"""1:1 column pairs of the training split (``schema.exact_determined_pairs``): found, and refused
where mapping would be wrong or would copy identifiers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from safe_synthesizer.schema import (
    apply_determined_columns,
    exact_determined_pairs,
    infer_schema,
    mark_exact_determined_pairs,
)


def table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    carriers = ["AA", "DL", "UA", "WN", "B6", "AS", "NK"]
    names = {c: f"{c} Airlines" for c in carriers}
    p = np.array([30, 25, 20, 10, 8, 6, 1], dtype=float)
    carrier = rng.choice(carriers, n, p=p / p.sum())
    return pd.DataFrame(
        {
            "carrier": carrier,
            "distance": rng.integers(100, 3000, n),
            "carrier_name": [names[c] for c in carrier],
            "grade": rng.choice(["a", "b", "c", "d"], n),
            "grade_num": 0,  # filled below: a numeric code of the label
            "country": rng.choice(["US", "CA", "MX"], n, p=[0.9, 0.06, 0.04]),
            "booking_id": [f"B{i:06d}" for i in range(n)],
            "passenger": [f"P{i:06d}" for i in range(n)],
        }
    ).assign(grade_num=lambda f: f["grade"].map({"a": 1, "b": 2, "c": 3, "d": 4}))


def test_a_label_determines_its_code_text_and_numeric():
    found = {(a, b): m for a, b, m in exact_determined_pairs(table())}
    assert set(found) == {("carrier", "carrier_name"), ("grade", "grade_num")}
    assert found[("grade", "grade_num")] == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert all(type(v) is int for v in found[("grade", "grade_num")].values())  # JSON-ready
    assert found[("carrier", "carrier_name")]["UA"] == "UA Airlines"


def test_identifier_like_columns_are_never_paired():
    """booking_id and passenger are 1:1 (each unique per row): mapping them would copy training rows."""
    found = exact_determined_pairs(table())
    assert not any({"booking_id", "passenger"} & {a, b} for a, b, _ in found)


def test_a_level_held_by_few_rows_is_not_mapped_and_noise_above_half_a_percent_refuses_the_pair():
    frame = table(2000)
    rare = frame.index[frame["carrier"] == "NK"]
    assert len(rare) > 0
    frame.loc[rare[:-4] if len(rare) > 4 else rare, "carrier"] = "AA"  # NK now on at most 4 rows
    frame.loc[frame["carrier"] == "AA", "carrier_name"] = "AA Airlines"
    found = {(a, b): m for a, b, m in exact_determined_pairs(frame)}
    assert "NK" not in found[("carrier", "carrier_name")]
    noisy = table(2000)
    flip = noisy.sample(frac=0.01, random_state=1).index  # 1 % of the rows disagree
    noisy.loc[flip, "grade_num"] = noisy.loc[flip, "grade_num"] % 4 + 1
    assert ("grade", "grade_num") not in {(a, b) for a, b, _ in exact_determined_pairs(noisy)}


def test_excluded_columns_and_a_skewed_column_are_not_paired():
    frame = table()
    assert ("carrier", "carrier_name") not in {
        (a, b) for a, b, _ in exact_determined_pairs(frame, exclude=["carrier_name"])
    }
    # country (3 levels, 90 % US) against grade (4 levels): sizes differ, and no 1:1 map exists
    assert not any("country" in (a, b) for a, b, _ in exact_determined_pairs(frame))


def test_marked_schema_sets_the_code_from_the_label_after_generation():
    frame = table()
    schema = infer_schema(frame)
    assert mark_exact_determined_pairs(schema, frame) == [("carrier", "carrier_name"), ("grade", "grade_num")]
    generated = pd.DataFrame(
        {
            "carrier": ["UA", "DL", None, "ZZ"],
            "carrier_name": ["DL Airlines", "DL Airlines", "AA Airlines", "x"],
            "grade": ["a", "d", "b", "c"],
            "grade_num": [4, 4, 2, 1],
        }
    )
    out, changed = apply_determined_columns(generated, schema)
    assert out["carrier_name"].tolist() == ["UA Airlines", "DL Airlines", "AA Airlines", "x"]
    assert out["grade_num"].tolist() == [1, 4, 2, 3]
    assert changed == {"carrier_name": 1, "grade_num": 2}
