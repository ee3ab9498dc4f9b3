"""Field tokenizer: exact round trips per column type, layout, JSON, DP vocabularies."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from safe_synthesizer.tabular.tokenizer import (
    BOS,
    FieldTokenizer,
    TokenizerSettings,
    fit_tokenizer,
)


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gain = np.where(rng.random(n) < 0.9, 0, rng.integers(100, 99999, n))
    return pd.DataFrame(
        {
            "age": rng.integers(17, 90, n),
            "income": rng.lognormal(10, 1, n).round(2),
            "gain": gain,
            "color": rng.choice(["red", "green", "blue", None], n, p=[0.5, 0.3, 0.15, 0.05]),
            "flag": rng.random(n) < 0.3,
            "when": pd.Series(pd.date_range("2020-01-01", periods=n, freq="D")).dt.strftime("%Y-%m-%d"),
            "score": np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1, n).round(3)),
        }
    )


def test_layout_is_about_one_token_per_column():
    frame = _frame()
    tok = fit_tokenizer(frame)
    rows = tok.encode(frame)
    assert all(r[0] == BOS for r in rows)
    assert len({len(r) for r in rows}) == 1
    # exact columns take one position, continuous ones two
    assert len(rows[0]) - 1 <= 2 * frame.shape[1]
    for pos, token in zip(tok.fixed_positions, rows[0][1:], strict=True):
        assert pos.start <= token < pos.end


def test_round_trip_exact_for_levels_missing_point_masses_and_dates():
    frame = _frame()
    tok = fit_tokenizer(frame)
    back = tok.decode(tok.encode(frame), np.random.default_rng(1))
    assert back["age"].tolist() == frame["age"].tolist()
    assert back["color"].tolist() == frame["color"].tolist()
    assert back["flag"].tolist() == frame["flag"].tolist()
    assert back["when"].tolist() == frame["when"].tolist()  # 2,000 distinct days: binned, day resolution
    zero = frame["gain"] == 0
    assert (back.loc[zero, "gain"] == 0).all()  # the point mass is exact
    assert back["score"].isna().tolist() == frame["score"].isna().tolist()


def test_continuous_values_stay_in_their_fine_bin_with_decimals_and_range():
    frame = _frame()
    tok = fit_tokenizer(frame)
    back = tok.decode(tok.encode(frame), np.random.default_rng(2))
    codec = next(c for c in tok.columns if c.name == "income")
    assert codec.fine_bins > 1 and codec.coarse_edges
    assert back["income"].min() >= frame["income"].min() and back["income"].max() <= frame["income"].max()
    assert (back["income"].round(2) == back["income"]).all()
    # ranks are preserved up to the within-bin draw: the correlation is almost 1
    assert np.corrcoef(back["income"], frame["income"])[0, 1] > 0.999
    assert back["gain"].map(lambda v: float(v).is_integer()).all()


def test_rare_levels_are_pooled_and_decoded_from_the_pool():
    frame = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50 + ["r1", "r2"]})
    tok = fit_tokenizer(frame, TokenizerSettings(rare_min_count=3))
    codec = tok.columns[0]
    assert "r1" not in codec.labels and sorted(codec.rare_levels) == ["r1", "r2"]
    back = tok.decode(tok.encode(frame), np.random.default_rng(0))
    assert set(back["c"].iloc[-2:]) <= {"r1", "r2"}


def test_free_text_uses_frequent_pieces_and_never_rare_words():
    texts = [f"Customer called about order number {i % 7}. Secretname{i} said thanks." for i in range(300)]
    frame = pd.DataFrame({"x": np.arange(300) % 3, "notes": texts})
    tok = fit_tokenizer(frame)
    codec = next(c for c in tok.columns if c.name == "notes")
    assert codec.kind == "text" and not codec.char_level
    assert "Customer" in codec.labels and "Secretname1" not in codec.labels
    back = tok.decode(tok.encode(frame), np.random.default_rng(0))
    assert back["notes"].iloc[0].startswith("Customer called about order number 0.")
    assert tok.order[-1] == list(frame.columns).index("notes")  # text last


def test_json_round_trip_gives_the_same_encoding():
    frame = _frame()
    tok = fit_tokenizer(frame)
    again = FieldTokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again.encode(frame) == tok.encode(frame)


def test_dp_vocabularies_come_from_the_domains_only():
    frame = _frame()
    domains = {
        "age": {"minimum": 0, "maximum": 100},
        "income": {"minimum": 0.0, "maximum": 1e6, "decimals": 2},
        "gain": {"minimum": 0, "maximum": 100000},
        "color": {"categories": ["red", "green", "blue", "purple"]},
        "flag": {"categories": ["true", "false"], "value_type": "bool"},
        "score": {"minimum": -5.0, "maximum": 5.0, "decimals": 3},
    }
    tok = fit_tokenizer(frame.drop(columns=["when"]), dp_domains=domains)
    income = next(c for c in tok.columns if c.name == "income")
    assert income.coarse_edges[0] == 0.0 and income.coarse_edges[-1] == 1e6  # equal width, not quantiles
    color = next(c for c in tok.columns if c.name == "color")
    assert "purple" in color.labels and not color.rare_levels
    # no DP bounds: characters from a fixed alphabet, never the raw quantiles
    unbounded = fit_tokenizer(frame[["age"]], dp_domains={}).columns[0]
    assert unbounded.kind == "text" and unbounded.char_level
    assert unbounded.labels[2:] == [chr(c) for c in range(32, 127)]
