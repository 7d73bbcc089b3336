"""hpo predict --file: each format read by its text column, never its header or its braces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpo.errors import HpoError
from hpo.final.predict import read_texts

TEXTS = ["a fine, moving film", 'said "no", twice\nand left', "plain"]


def test_csv_tsv_jsonl_parquet_by_text_column(tmp_path: Path) -> None:
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": i, "review": t} for i, t in enumerate(TEXTS)]
    for suffix, delimiter in ((".csv", ","), (".tsv", "\t")):
        path = tmp_path / f"r{suffix}"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["id", "review"], delimiter=delimiter)
            writer.writeheader()
            writer.writerows(rows)
        assert read_texts(str(path), text_column="review") == TEXTS
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_texts(str(path), text_column="review") == TEXTS
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    assert read_texts(str(path), text_column="review") == TEXTS


def test_txt_is_a_review_per_line(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("one\n\ntwo\n")
    assert read_texts(str(path)) == ["one", "two"]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("r.csv", "id,body\n1,x\n", "has no column 'text' (columns: id, body). Pass --text-column"),
        ("r.jsonl", "[1, 2]\n", "is not valid jsonl: line 1 is not a JSON object"),
        ("r.jsonl", "{oops\n", "is not valid jsonl"),
        ("r.csv", "text\n\n\n", None),
        ("r.jsonl", '{"text": ""}\n', "1 empty or missing texts in column 'text'"),
    ],
)
def test_bad_files_are_one_line_errors(
    tmp_path: Path, name: str, content: str, expected: str | None
) -> None:
    path = tmp_path / name
    path.write_text(content)
    if expected is None:  # blank CSV lines are no rows
        assert read_texts(str(path)) == []
        return
    with pytest.raises(HpoError, match=expected.replace("(", r"\(").replace(")", r"\)")) as info:
        read_texts(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_names_the_absolute_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HpoError, match=f"cannot read {tmp_path / 'nope.csv'}"):
        read_texts("nope.csv")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("no_weights", "no weights (model.safetensors). Run `hpo retrain CONFIG` again"),
        ("corrupt_weights", "cannot load the model ("),
        ("base_model", "a BertModel, not a text classifier"),
        ("bad_config", "config.json: not valid JSON"),
    ],
)
def test_a_damaged_model_folder_is_one_line_error(
    tmp_path: Path, tiny_models, damage: str, expected: str
) -> None:
    import shutil

    from hpo.errors import ModelError
    from hpo.final.predict import Predictor

    folder = tmp_path / "model"
    shutil.copytree(tiny_models["bert"], folder)
    weights = folder / "model.safetensors"
    if damage == "no_weights":
        weights.unlink()
    elif damage == "corrupt_weights":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "base_model":
        config = json.loads((folder / "config.json").read_text())
        config["architectures"] = ["BertModel"]
        (folder / "config.json").write_text(json.dumps(config))
    else:
        (folder / "config.json").write_text("{oops")
    with pytest.raises(ModelError) as err:
        Predictor(folder)
    message = str(err.value)
    assert expected in message and "\n" not in message
    assert str(folder) in message
