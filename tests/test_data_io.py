"""Loading and writing tables: the four formats, S3, and one test per kind of bad input."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from safe_synthesizer.config import S3Settings
from safe_synthesizer.data_io import (
    DuplicateColumnsError,
    EmptyColumnError,
    EmptyTableError,
    TableError,
    TableParseError,
    TooFewRowsError,
    UnsupportedFormatError,
    load_table,
    write_table,
)
from safe_synthesizer.errors import DataSourceError, UserInputError
from safe_synthesizer.storage import make_s3_client

DEMO = Path(__file__).resolve().parents[1] / "runner" / "safe_synthesizer" / "demo" / "adult_pii_demo.csv"
SECRET = "Zelda-Quux-555-12-3456"  # a "PII" value that must never appear in a message


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["Ann Lee", "Bo Chan", "Cy Diaz", "Di Evans"],
            "age": [31, 45, 27, 60],
            "score": [0.5, 1.25, None, 3.0],
            "zip": ["02134", "10001", "00501", "94105"],
            "notes": ["likes, commas", 'has "quotes"', "multi\nline", ""],
        }
    )


def _fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def _write(path: Path, df: pd.DataFrame) -> Path:
    if path.suffix == ".json":
        path.write_text(df.to_json(orient="records"))
        return path
    return write_table(df, path)


@pytest.mark.parametrize("ext", [".csv", ".jsonl", ".json", ".parquet"])
def test_round_trip_every_format_and_input_unchanged(tmp_path, frame, ext):
    path = _write(tmp_path / f"table{ext}", frame)
    before = _fingerprint(path)
    loaded = load_table(path)
    assert _fingerprint(path) == before, "load_table must not touch the input"
    assert list(loaded.columns) == list(frame.columns)
    assert loaded["zip"].tolist() == ["02134", "10001", "00501", "94105"], "leading zeros kept"
    assert loaded["age"].tolist() == [31, 45, 27, 60]
    assert loaded["notes"].iloc[2] == "multi\nline"
    assert loaded["notes"].iloc[0] == "likes, commas"
    assert loaded["score"].isna().tolist() == [False, False, True, False]


def test_file_url_and_s3(tmp_path, frame, s3_env):
    path = write_table(frame, tmp_path / "t.parquet")
    assert len(load_table(f"file://{path}")) == 4
    s3 = make_s3_client(S3Settings(endpoint=s3_env.endpoint_url, addressingStyle="path"), max_attempts=1)
    s3.create_bucket(Bucket="input")
    s3.upload_file(str(path), "input", "d/t.parquet")
    loaded = load_table("s3://input/d/t.parquet", s3)
    pd.testing.assert_frame_equal(loaded, pd.read_parquet(path))
    with pytest.raises(
        DataSourceError, match=r"s3://input/d/missing\.csv does not exist; check spec\.dataSource"
    ):
        load_table("s3://input/d/missing.csv", s3)


def test_demo_table_is_valid():
    assert DEMO.stat().st_size < 1024 * 1024
    df = load_table(DEMO, min_rows=200)
    assert len(df) == 2000
    for column in ["name", "email", "phone", "ssn", "address", "notes", "age", "hours_per_week", "income"]:
        assert column in df.columns
    assert df["age"].dtype.kind == "i"


def test_missing_file(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        load_table(tmp_path / "nope.csv")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(UnsupportedFormatError, match=r"'\.xlsx'.*\.csv, \.jsonl, \.json, \.parquet"):
        load_table(path)


def test_csv_too_many_fields(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(f"a,b,c\n1,2,3\n4,5,6,{SECRET}\n7,8,9\n")
    with pytest.raises(TableParseError, match="line 3: expected 3 fields, saw 4") as info:
        load_table(path)
    assert SECRET not in str(info.value)


def test_csv_too_few_fields_after_multiline_record(tmp_path):
    """Line numbers count physical lines: the quoted field spans lines 2-3, the short row is line 4."""
    path = tmp_path / "t.csv"
    path.write_text('a,b,c\n1,"two\nlines",3\n4,5\n')
    with pytest.raises(TableParseError, match="line 4: expected 3 fields, saw 2"):
        load_table(path)


def test_csv_not_utf8(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\n1,2\n3,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(TableParseError, match="line 3: not valid UTF-8"):
        load_table(path)


def test_jsonl_invalid_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(f'{{"a": 1}}\n\n{{"a": "{SECRET}",}}\n')
    with pytest.raises(TableParseError, match="line 3: invalid JSON") as info:
        load_table(path)
    assert SECRET not in str(info.value)


def test_jsonl_line_not_an_object(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(TableParseError, match="line 2: expected a JSON object"):
        load_table(path)


def test_json_invalid(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('[{"a": 1},\n {"a": 2]\n')
    with pytest.raises(TableParseError, match="line 2, column .*invalid JSON"):
        load_table(path)


def test_json_lines_saved_as_json(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"a": 1}\n{"a": 2}\n')
    assert load_table(path)["a"].tolist() == [1, 2]


def test_parquet_corrupt(tmp_path, frame):
    good = write_table(frame, tmp_path / "good.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(TableParseError, match="not a readable Parquet file"):
        load_table(bad)


@pytest.mark.parametrize(("content", "fragment"), [("", "empty"), ("a,b,c\n", "no data rows")])
def test_csv_empty(tmp_path, content, fragment):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(EmptyTableError, match=fragment):
        load_table(path)


def test_jsonl_empty(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n\n")
    with pytest.raises(EmptyTableError):
        load_table(path)


def test_too_few_rows(tmp_path, frame):
    path = write_table(frame, tmp_path / "t.csv")
    with pytest.raises(
        TooFewRowsError, match=r"4 data row\(s\); at least 200 are needed \(holdout\)"
    ) as info:
        load_table(path, min_rows=200, min_rows_reason="holdout")
    assert "add 196" in str(info.value)
    assert isinstance(info.value, UserInputError) and info.value.exit_code == 1
    assert len(load_table(path, min_rows=4)) == 4


def test_duplicate_columns_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,email,email,x,x\n1,a,b,c,d\n")
    with pytest.raises(DuplicateColumnsError, match="'email', 'x'"):
        load_table(path)


def test_duplicate_columns_parquet(tmp_path):
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["v", "v"])
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    with pytest.raises(DuplicateColumnsError, match="'v'"):
        load_table(path)


def test_duplicate_key_jsonl(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1, "b": 2}\n{"a": 1, "a": 2}\n')
    with pytest.raises(DuplicateColumnsError, match="line 2: key 'a' appears twice"):
        load_table(path)


@pytest.mark.parametrize("ext", [".csv", ".jsonl"])
def test_all_empty_column(tmp_path, ext):
    path = tmp_path / f"t{ext}"
    if ext == ".csv":
        path.write_text("a,blank,b\n1,,x\n2,,y\n")
    else:
        path.write_text('{"a": 1, "blank": "", "b": "x"}\n{"a": 2, "blank": null, "b": "y"}\n')
    with pytest.raises(EmptyColumnError, match="'blank' are empty in every row; drop them"):
        load_table(path)


def test_errors_are_user_input_errors():
    for cls in (UnsupportedFormatError, TableParseError, EmptyTableError, TooFewRowsError, EmptyColumnError):
        assert issubclass(cls, TableError) and issubclass(cls, UserInputError)


def test_write_table_atomic_and_formats(tmp_path, frame):
    for name in ("o.csv", "o.parquet", "o.jsonl"):
        out = write_table(frame, tmp_path / "out" / name)
        assert len(load_table(out)) == 4
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["o.csv", "o.jsonl", "o.parquet"]
    with pytest.raises(UnsupportedFormatError):
        write_table(frame, tmp_path / "o.xlsx")
    csv_text = (tmp_path / "out" / "o.csv").read_text()
    assert pd.read_csv(io.StringIO(csv_text), dtype=str)["zip"].tolist()[0] == "02134"
    assert json.loads((tmp_path / "out" / "o.jsonl").read_text().splitlines()[0])["name"] == "Ann Lee"


def test_csv_keeps_carriage_returns_inside_values(tmp_path):
    """A value with a bare \\r (generated text can hold one) must not split its row when read back."""
    frame = pd.DataFrame(
        {"age": [60, 35], "note": ["HP\rte", "plain"], "score": [1.5, None], "sex": ["Female", None]}
    )
    path = write_table(frame, tmp_path / "t.csv")
    for back in (pd.read_csv(path), load_table(path)):
        assert back.shape == (2, 4)
        assert back["note"].tolist() == ["HP\rte", "plain"]
        assert back["age"].tolist() == [60, 35] and back["sex"].iloc[0] == "Female"
        assert pd.isna(back["score"].iloc[1]) and pd.isna(back["sex"].iloc[1])
    plain = write_table(frame.assign(note=["a", "b"]), tmp_path / "plain.csv")
    assert plain.read_text().splitlines()[1] == "60,a,1.5,Female"  # minimal quoting otherwise
