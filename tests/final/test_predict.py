"""hpo predict --file: each format read by its text column, never its header or its braces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
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


def _with_classical(folder: Path, weight: float, shipped: str) -> list[str]:
    """The folder serving TF-IDF at ``weight`` of the transformer: a classical model fitted on
    a few reviews, copied in as the final stage does, and the record saying so."""
    from datasets import ClassLabel, Dataset, Features, Value

    from hpo.final.classical import fit
    from hpo.final.record import CLASSICAL_DIR, ModelRecord

    texts = ["great moving film", "superb fine acting", "awful boring mess", "dull slow plot"] * 5
    train = Dataset.from_dict(
        {"text": texts, "label": [1, 1, 0, 0] * 5},
        features=Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])}),
    )
    fit(train, ["neg", "pos"], ngram_range=(1, 1), c=1.0).save(folder / CLASSICAL_DIR)
    record = ModelRecord.read(folder)
    ModelRecord(**{**record.__dict__, "shipped": shipped, "weight": weight}).write(folder)
    return ["a great film", "boring and dull", "fine"]


def test_a_blend_serves_the_mix_at_its_weight(folder: Path) -> None:
    from hpo.final.classical import TfidfModel
    from hpo.final.predict import Predictor
    from hpo.final.record import CLASSICAL_DIR

    texts = _with_classical(folder, 1.0, "tuned")
    transformer = [
        list(row["probabilities"].values())[1] for row in Predictor(folder).predict(texts)
    ]
    classical = TfidfModel.load(folder / CLASSICAL_DIR).probabilities([texts])[:, 1]
    _with_classical(folder, 0.3, "blend")
    served = [list(row["probabilities"].values())[1] for row in Predictor(folder).predict(texts)]
    expected = 0.3 * np.asarray(transformer) + 0.7 * classical
    np.testing.assert_allclose(served, expected, atol=2e-4)


def test_tfidf_alone_never_loads_the_transformer(folder: Path, monkeypatch) -> None:
    import transformers

    from hpo.final.predict import Predictor

    texts = _with_classical(folder, 0.0, "classical")

    def refuse(*_args, **_kwargs):
        raise AssertionError("the transformer was loaded")

    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", refuse)
    labels = [row["label"] for row in Predictor(folder).predict(texts)]
    assert labels[:2] == ["pos", "neg"]


def test_a_record_without_its_classical_files_is_exit_2(folder: Path, capsys) -> None:
    import shutil

    from hpo.cli import main
    from hpo.final.record import CLASSICAL_DIR

    _with_classical(folder, 0.5, "blend")
    shutil.rmtree(folder / CLASSICAL_DIR)
    assert main(["predict", str(folder), "a text"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{folder / CLASSICAL_DIR / 'classical.json'}: missing" in err
    assert "\n" not in err


@pytest.mark.parametrize(("shipped", "weight"), [("blend", 1.0), ("classical", 0.4), ("best", 1.0)])
def test_a_record_whose_weight_does_not_fit_is_exit_2(
    folder: Path, capsys, shipped: str, weight: float
) -> None:
    from hpo.cli import main

    _with_classical(folder, weight, shipped)
    assert main(["predict", str(folder), "a text"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{folder / 'hpo_final.json'}: shipped {shipped!r} with weight {weight!r}" in err
    assert "\n" not in err
