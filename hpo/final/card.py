"""The model card: ``README.md`` beside a final model's weights, in the Hugging Face format.

A YAML header (``model-index`` with the test figures, ``datasets``, ``metrics``, ``base_model``,
``pipeline_tag``, ``library_name``), built with ``huggingface_hub``'s public
:class:`~huggingface_hub.ModelCardData`, then prose: the data, the search, the test figures
with their intervals and the baselines on the same examples, how texts are cut, how to load
the folder, and its limits. The final stage writes it when the model is saved; the report
writes it again once the baselines are in, so the card carries the comparison. Every figure
comes from ``metrics.json`` and ``baselines.json``: the card measures nothing itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.config.schema import METRICS
from hpo.data.truncation import describe
from hpo.final.choice import BLEND_WEIGHTS, CANDIDATES, TITLES, Choice
from hpo.final.record import ModelRecord
from hpo.final.scoring import Verdict

if TYPE_CHECKING:
    from hpo.config.schema import DataSection, StudySection
    from hpo.final.metrics import FinalMetrics, Scores

#: The card's file name in a model folder (the hub's convention).
CARD_FILE = "README.md"
#: Hub ids of the packaged backbones (``model.name: packaged:...``), for ``base_model``.
PACKAGED_HUB_IDS = {"all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2"}


def base_model(name: str) -> str | None:
    """The hub id a model was fine-tuned from, where there is one (not for a local folder)."""
    if name.startswith("packaged:"):
        return PACKAGED_HUB_IDS.get(name.split(":", 1)[1].strip().lower())
    if Path(name).expanduser().exists() or name.startswith((".", "/", "~")):
        return None
    return name


def write_card(
    model_dir: Path,
    metrics: FinalMetrics,
    *,
    data: DataSection,
    study: StudySection,
    model_name: str,
    baselines: Mapping[str, Scores | None] | None = None,
    test_labels: Sequence[int] | None = None,
    finished_trials: int | None = None,
    choice: Choice | None = None,
) -> Path:
    """Write ``model_dir/README.md`` from the final stage's ``metrics`` (and the baselines'
    results, with the test labels for the paired test, the study's finished trials, and the
    choice of the shipped model, when they are known); returns its path."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    record = ModelRecord.read(model_dir)
    data_name = _data_name(data)
    metric = metrics.metric
    scored = [("accuracy", metrics.accuracy)]
    if metric != "accuracy":
        scored.append((metric, metrics.metric_value))
    results = [
        EvalResult(
            task_type="text-classification",
            task_name="Text Classification",
            dataset_type=data.dataset or data_name,
            dataset_name=data_name,
            dataset_split="test",
            metric_type=name,
            metric_value=float(value),
            metric_name=f"Test {name}",
        )
        for name, value in scored
    ]
    card_data = ModelCardData(
        model_name=study.name,
        base_model=base_model(model_name),
        library_name="transformers",
        pipeline_tag="text-classification",
        datasets=[data.dataset or data_name],
        metrics=sorted({"accuracy", metric}),
        tags=["hpo", "text-classification", "optuna"],
        eval_results=results,
    )
    body = _body(
        data,
        study,
        base_model(model_name) or model_name,
        record,
        metrics,
        (baselines or {}).get("classical"),
        test_labels,
        finished_trials,
        choice,
    )
    card = ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}")
    path = model_dir / CARD_FILE
    card.save(str(path))
    return path


def _data_name(data: DataSection) -> str:
    if data.path:
        return Path(data.path).expanduser().name or str(data.path)
    return data.dataset or "local data"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _body(
    data: DataSection,
    study: StudySection,
    base: str,
    record: ModelRecord,
    metrics: FinalMetrics,
    classical: Scores | None,
    test_labels: Sequence[int] | None,
    finished_trials: int | None,
    choice: Choice | None,
) -> str:
    trials = (
        f"{finished_trials} finished trials"
        if finished_trials is not None
        else f"up to {study.n_trials} trials"
    )
    low, high = metrics.ci95
    cut = describe(record.truncation, record.head_fraction)
    lines = [
        f"# {study.name}",
        "",
        f"A text classifier fine-tuned from `{base}` by [hpo](https://pypi.org/project/hpo-tune/) "
        f"on {_data_name(data)}: {len(record.labels)} classes "
        f"({_classes(record.labels)}), test accuracy **{_pct(metrics.accuracy)}** "
        f"(95% CI {_pct(low)} - {_pct(high)}, {metrics.n:,} test examples).",
        "",
        *_serves(choice),
        "## Data",
        "",
        f"- Source: `{data.path or data.dataset}`; text column `{data.text_column}`"
        + (f", pair column `{data.text_pair_column}`" if data.text_pair_column else "")
        + f", label column `{data.label_column}`.",
        f"- Trained on {metrics.train_size:,} examples ("
        + (
            f"the training split without its {metrics.validation_held:,} validation examples, "
            "kept out to choose the model this folder serves"
            if metrics.validation_held
            else "the training split, validation included"
        )
        + "); scored once on the test split, which chose nothing.",
    ]
    if metrics.test_carved and metrics.test_fraction is not None:
        lines.append(
            f"- The test split was carved from the data ({100 * metrics.test_fraction:.0f}%, "
            f"seed {data.split_seed}): the data came without one."
        )
    lines += [
        "",
        "## How it was tuned",
        "",
        f"- Study `{study.name}` ({trials}, sampler "
        f"{study.sampler.get('type', 'TPESampler')}, pruner "
        f"{study.pruner.get('type', 'none')}), scored on validation `{study.metric}`.",
        f"- Params: from {metrics.source or 'the study'}; trained to epoch {metrics.stop_epoch:g}:",
        "",
        "| param | value |",
        "| --- | --- |",
        *[f"| `{k}` | {_short(v)} |" for k, v in (metrics.trained_params or {}).items()],
        "",
        "## Test results",
        "",
        "| model (same test examples) | accuracy | 95% CI |",
        "| --- | ---: | ---: |",
        f"| this model | {_pct(metrics.accuracy)} | {_pct(low)} - {_pct(high)} |",
    ]
    if classical:
        c_low, c_high = classical.ci95
        lines.append(
            f"| TF-IDF + logistic regression | {_pct(classical.accuracy)} | "
            f"{_pct(c_low)} - {_pct(c_high)} |"
        )
    figure = metrics.figure("metric_value")
    if metrics.metric != "accuracy" and figure is not None:
        value, (m_low, m_high) = figure
        lines += [
            "",
            f"Test {metrics.metric}: {value:.4f} (95% CI {m_low:.4f} - {m_high:.4f}).",
        ]
    lines += ["", *_paired(metrics, classical, test_labels)]
    if choice is not None:
        lines += ["## The model chosen on validation", "", *choice_lines(choice, test_labels)]
    lines += [
        "## How texts are cut",
        "",
        f"Each text (or pair) is cut to **{record.max_length} tokens**, {cut}.",
    ]
    if record.truncation != "head":
        lines += [
            "",
            "`transformers.pipeline` cannot cut that way: with `truncation=True` it keeps the "
            f"first {record.max_length} tokens. On texts longer than that its predictions can "
            "differ from the ones measured above. For the exact cut use hpo's loader (below).",
        ]
    lines += [
        "",
        "## How to use it",
        "",
        "```python",
        "import hpo",
        "",
        'predictor = hpo.load_predictor("path/to/this/folder")  # the model chosen on validation',
        'print(predictor.predict(["a text to classify"]))',
        "```",
        "",
        "```python",
        "from transformers import pipeline",
        "",
        'classify = pipeline("text-classification", model="path/to/this/folder")',
        'print(classify("a text to classify", truncation=True))  # the transformer alone',
        "```",
        "",
        'Or from a shell: `hpo predict path/to/this/folder "a text to classify"`.',
        "",
        "## Limits",
        "",
        f"- Measured on one test split of {_data_name(data)}; other text of other sources "
        "can score lower.",
        f"- It knows only its {len(record.labels)} classes ({_classes(record.labels)}): every "
        "text gets one of them.",
        "- The interval is a bootstrap over the test examples: it covers the test set's "
        "sampling, not a change of data.",
    ]
    return "\n".join(lines) + "\n"


def _serves(choice: Choice | None) -> list[str]:
    """What ``hpo predict`` and ``transformers.pipeline`` each give, with both test figures."""
    if choice is None:
        return []
    shipped, tuned = choice.shipped_scores, choice.test.get("tuned")
    if shipped is None or tuned is None:
        return []
    if choice.shipped == "tuned":
        return [
            "`hpo predict` and `transformers.pipeline` both serve the fine-tuned transformer: "
            "it scored highest on validation, against TF-IDF and their blend (below).",
            "",
        ]
    return [
        f"**`hpo predict` and `hpo.load_predictor` serve the {shipped_title(choice)}**, which "
        f"scored highest on validation: test accuracy **{_pct(shipped.accuracy)}** (95% CI "
        f"{_pct(shipped.ci95[0])} - {_pct(shipped.ci95[1])}). `transformers.pipeline` loads "
        f"the fine-tuned transformer alone: test accuracy {_pct(tuned.accuracy)} (95% CI "
        f"{_pct(tuned.ci95[0])} - {_pct(tuned.ci95[1])}), the figure above.",
        "",
    ]


def shipped_title(choice: Choice) -> str:
    """The shipped model in words: ``blend of the two (0.60 transformer, 0.40 TF-IDF)``."""
    title = TITLES[choice.shipped]
    if choice.shipped == "blend":
        title += f" ({choice.weight:.2f} transformer, {1 - choice.weight:.2f} TF-IDF)"
    return title


def choice_lines(choice: Choice, test_labels: Sequence[int] | None) -> list[str]:
    """Each candidate's validation figure (what chose) and test figure, and McNemar's test of
    the shipped model against it on test."""
    title = METRICS.get(choice.metric, choice.metric)
    shipped = choice.shipped_scores
    lines = [
        f"Chosen by validation {title} on {choice.n_validation:,} examples that none of the "
        "candidates trained on; the test split was read after the choice, once. The blend's "
        f"validation figure is the best of its {len(BLEND_WEIGHTS)} weights, so a little "
        "optimistic.",
        "",
        f"| candidate | validation {title} | test accuracy | 95% CI | shipped model against it "
        "on test |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name in CANDIDATES:
        scores = choice.test.get(name)
        label = TITLES[name]
        if name == "blend":
            label += f", {choice.blend_weight:.2f} transformer"
        if name == choice.shipped:
            label = f"**{label} (shipped)**"
        value = choice.validation.get(name)
        cells = [label, f"{value:.4f}" if value is not None else "n/a"]
        if scores is None:
            cells += ["n/a", "n/a"]
        else:
            cells += [_pct(scores.accuracy), f"{_pct(scores.ci95[0])} - {_pct(scores.ci95[1])}"]
        versus = "n/a"
        if name == choice.shipped:
            versus = "-"
        elif shipped is not None and scores is not None and test_labels is not None:
            test = Verdict.paired(shipped.predictions, scores.predictions, test_labels)
            if test is not None:
                versus = (
                    f"{test.a_is()} it: {test.a_only:,} right only by the shipped model, "
                    f"{test.b_only:,} only by this one, McNemar p {_p(test.p_value)}"
                )
        lines.append("| " + " | ".join([*cells, versus]) + " |")
    return [*lines, ""]


def _p(value: float) -> str:
    """``= 0.0042``, or ``< 1e-300`` where the p-value underflows to zero."""
    return f"= {value:.2g}" if value > 0 else "< 1e-300"


def _paired(
    metrics: FinalMetrics,
    classical: Scores | None,
    test_labels: Sequence[int] | None,
) -> list[str]:
    """McNemar's test against TF-IDF on the same examples, where both predictions are known."""
    if not classical or test_labels is None:
        return []
    test = Verdict.paired(metrics.predictions, classical.predictions, test_labels)
    if test is None:
        return []
    return [
        f"Against TF-IDF on the same examples: {test.a_only:,} right only by this model, "
        f"{test.b_only:,} only by TF-IDF; McNemar's exact test p = {test.p_value:.2g}: this "
        f"model is {test.a_is()} the classical baseline at the {test.level} level.",
        "",
    ]


def _classes(labels: Sequence[str]) -> str:
    if len(labels) > 12:
        return "listed in `config.json`'s `id2label`"
    return ", ".join(f"`{name}`" for name in labels)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
