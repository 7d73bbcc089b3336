"""Typed study config: the frozen dataclasses a study is made of, and nothing that loads them.

Every field has a ``#:`` comment: its documentation, which the docs site's config reference is
generated from (:mod:`hpo.config.fields`). :mod:`hpo.config.loader` reads YAML into these
dataclasses and :mod:`hpo.config.validate` runs every check; key names are the ones users
already know: ``TrainingArguments`` fields for training settings and Optuna's
``low/high/log/step/choices`` for the search space.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hpo.config.reference import REFERENCE_PARAMS
from hpo.config.space import ParamSpec

#: Settings the search owns; a study config may not set them in ``training``.
SEARCH_OWNED_TRAINING_KEYS = frozenset(
    {
        "output_dir",
        "eval_strategy",
        "eval_steps",
        "save_strategy",
        "load_best_model_at_end",
        "metric_for_best_model",
        "greater_is_better",
        "do_train",
        "do_eval",
    }
)

#: Values of ``data.truncation``.
TRUNCATIONS = ("head", "tail", "head+tail")

#: Values of ``model.dropout_masks``.
DROPOUT_MASKS = ("auto", "torch")

#: Values of ``study.metric`` and what each is called in messages, plots and the dashboard.
METRICS: dict[str, str] = {
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "weighted_f1": "weighted-F1",
    "mcc": "Matthews correlation",
    "f1": "F1 of the positive class",
}

#: Values of ``study.ship``: which model the final stage hands over.
SHIP_CHOICES = ("best", "tuned")


@dataclass(frozen=True)
class StudySection:
    """Where the trials live and how Optuna picks and stops them."""

    #: Optuna study name; also names the default SQLite file and the output folder.
    name: str
    #: Optuna storage URL. Default: ``sqlite:///storage/<name>.db`` (relative to the working dir).
    storage: str | None = None
    #: ``maximize`` the validation metric. Kept explicit so exports and dashboards say it.
    direction: str = "maximize"
    #: The objective of every trial, scored on the validation split:
    #: ``accuracy``, ``macro_f1``, ``weighted_f1``, ``mcc`` (Matthews correlation) or, for two
    #: classes, ``f1`` (F1 of ``data.positive_label``). A study keeps the metric it began with.
    metric: str = "accuracy"
    #: Total trials for the study, counted over every run that resumes it (COMPLETE + PRUNED).
    #: 0: no search; ``hpo run`` trains the strong default (a budget's plan may choose it).
    n_trials: int = 20
    #: Optuna sampler: ``type`` is a class in ``optuna.samplers``, the other keys its arguments.
    sampler: dict[str, Any] = field(default_factory=lambda: {"type": "TPESampler", "seed": 42})
    #: Optuna pruner: ``type`` is a class in ``optuna.pruners`` (or ``none``), other keys its args.
    pruner: dict[str, Any] = field(
        default_factory=lambda: {"type": "MedianPruner", "n_startup_trials": 3}
    )
    #: Evaluations per epoch. More than one gives the pruner something to act on mid-epoch.
    evals_per_epoch: int = 1
    #: Enqueue the reference setup (the ``reference`` section: lr 2e-5, batch 16, 3 epochs,
    #: weight decay 0.01, warmup ``auto``) in a new study, after the strong default (which every
    #: new study starts with where its search space holds it).
    enqueue_reference: bool = True
    #: Seconds between a running trial's heartbeats in storage.
    heartbeat_interval: int = 10
    #: A RUNNING trial whose last heartbeat is older than this (a killed worker) is marked
    #: FAILED and retried with the same params (Optuna's RetryFailedTrialCallback).
    grace_period: int = 30
    #: How many times such a trial is retried.
    max_retry: int = 3
    #: Wall-clock budget of the whole ``hpo run`` (``45m``, ``1h30m``, ``90s``, or seconds;
    #: ``--budget`` sets it). The planner fills the keys this config leaves open (length,
    #: truncation, search subset, trials, epochs, evaluations) so that search, final retrain,
    #: test and baselines fit it, and the run keeps it. None: no budget, nothing planned.
    budget: str | int | float | None = None
    #: Trials a budget's plan counts on running at once: this process and the ``hpo worker``
    #: processes that join its search (on machines like this one, or one GPU each), which keep
    #: its deadline. ``hpo plan --workers`` sets it; nothing starts the workers but you (or
    #: ``hpo launch slurm``). A search that gets fewer still ends by its deadline.
    workers: int = 1
    #: The model the final stage hands over in ``final/model``: ``best`` (the tuned transformer,
    #: the TF-IDF model or a blend of their probabilities, whichever scores highest on
    #: validation; the transformer trains on train without validation so that validation can
    #: choose) or ``tuned`` (the tuned transformer, trained on train plus validation).
    ship: str = "best"


@dataclass(frozen=True)
class ModelSection:
    """The backbone to fine-tune."""

    #: A hub id, a local folder, or ``packaged:all-MiniLM-L6-v2`` (from the ``offline`` extra).
    name: str
    #: Hub revision (branch, tag or commit) when ``name`` is a hub id.
    revision: str | None = None
    #: Run code from the model repository. Off unless you trust it.
    trust_remote_code: bool = False
    #: Attention kernel: ``auto`` picks the faster one for training and for scoring on this
    #: hardware (see :func:`hpo.train.kernels.training_attention`); or ``eager``, ``sdpa``,
    #: ``flash_attention_2``, ... as Transformers' ``attn_implementation``, used throughout.
    attn_implementation: str = "auto"
    #: Dropout masks in training steps: ``torch`` (the default) keeps PyTorch's own; ``auto``
    #: draws them four to a random number on a CPU (see :mod:`hpo.train.dropout`: faster steps, but
    #: other numerics, and a lower mean validation accuracy over five seeds in
    #: ``bench/dropout_masks.py``) and leaves GPUs to PyTorch's fused dropout.
    dropout_masks: str = "torch"


@dataclass(frozen=True)
class DataSection:
    """Where the examples come from, what their labels are, and how they are split and
    tokenized."""

    #: Hub dataset id, used when ``path`` is not set.
    dataset: str | None = "imdb"
    #: Local copy: a folder of parquet/csv/tsv/jsonl files (train.*, optional validation.* and
    #: test.*) or an ``aclImdb`` tree.
    path: str | None = None
    #: The column that holds the text.
    text_column: str = "text"
    #: The column that holds the label: ints or strings, two classes or more.
    label_column: str = "label"
    #: Second text of a sentence-pair task (paraphrase, entailment), tokenized as a pair.
    text_pair_column: str | None = None
    #: Names of integer labels, by value (``[neg, pos]``: 0 is neg). String labels are their own
    #: names and ignore this key, so one config serves both.
    label_names: list[str] | None = None
    #: The positive class of ``study.metric: f1`` (a label name); default the second label.
    positive_label: str | int | None = None
    #: Fraction of train carved out (stratified) as the validation split the search scores on,
    #: when the data has no validation split of its own.
    validation_fraction: float = 0.1
    #: Fraction of train carved out (stratified) as the test split when the data has none; it
    #: is carved before anything else, so the search never sees it.
    test_fraction: float = 0.2
    #: Seed of those splits and of the subset caps below.
    split_seed: int = 42
    #: Search on a stratified subset of the training split (None = all of it).
    max_train_samples: int | None = None
    #: Score trials on a stratified subset of the validation split (None = all of it).
    max_eval_samples: int | None = None
    #: Truncation length in tokens; batches are padded dynamically, never to this length.
    max_length: int = 512
    #: Which tokens of a longer text are kept: ``head`` (the start), ``tail`` (the end) or
    #: ``head+tail`` (``head_fraction`` of them from the start, the rest from the end). Text
    #: pairs take ``head``: truncation trims the longer side.
    truncation: str = "head"
    #: The head's share of the token budget under ``truncation: head+tail``.
    head_fraction: float = 0.25
    #: Drop training reviews whose text also appears in the test split (123 in IMDb), so the
    #: test figure is leak-free. Needs the test split to be present.
    drop_test_overlap: bool = False
    #: Tokenized-dataset cache. Default: ``$XDG_CACHE_HOME/hpo`` (``~/.cache/hpo``).
    cache_dir: str | None = None


@dataclass(frozen=True)
class HpoConfig:
    """A whole study: what to search, on what, and where the trials are stored."""

    #: Where the trials live and how Optuna picks and stops them (:class:`StudySection`).
    study: StudySection
    #: The backbone to fine-tune (:class:`ModelSection`).
    model: ModelSection
    #: The examples, their labels, splits and tokenization (:class:`DataSection`).
    data: DataSection = field(default_factory=DataSection)
    #: ``TrainingArguments`` field -> search-space entry (:class:`ParamSpec`).
    search_space: dict[str, ParamSpec] = field(default_factory=dict)
    #: Fixed ``TrainingArguments`` fields, shared by every trial and by the final retrain
    #: (``per_device_eval_batch_size``, ``logging_steps``, ``seed``, ``bf16``, ...). Keys the
    #: search owns (evaluation and checkpoint settings) are refused; ``output_dir`` moves the
    #: run folder (default ``runs/<study>``).
    training: dict[str, Any] = field(default_factory=dict)
    #: The reference setup the search is measured against: ``TrainingArguments`` values,
    #: enqueued after the strong default (its searched keys) and retrained by ``hpo run`` for
    #: the tuned model's epoch budget. Default: lr 2e-5, batch 16, 3 epochs, weight decay 0.01,
    #: ``warmup_steps: auto`` (the same share of the run at any size).
    reference: dict[str, Any] = field(default_factory=lambda: dict(REFERENCE_PARAMS))
    #: The file this config came from ("<dict>" when built in code).
    source: str = "<dict>"
    #: The dotted keys the user set (in the file or with ``--set``), e.g. ``data.max_length``,
    #: ``training.num_train_epochs``, ``search_space.learning_rate``: the planner leaves them as
    #: they are. Not part of the resolved config.
    explicit: frozenset[str] = frozenset()

    @property
    def storage_url(self) -> str:
        """The Optuna storage URL, with the SQLite default filled in."""
        return self.study.storage or f"sqlite:///storage/{self.study.name}.db"

    @property
    def output_dir(self) -> Path:
        """Where trials and the final stage write (``training.output_dir`` or runs/<study>)."""
        return Path(self.training.get("output_dir", f"runs/{self.study.name}"))

    @property
    def trainer_setup(self) -> TrainerSetup:
        """The part of this config that building a Trainer reads (:class:`TrainerSetup`)."""
        return TrainerSetup(
            model=self.model,
            search_space=self.search_space,
            training=self.training,
            reference=self.reference,
            metric=self.study.metric,
            positive_label=self.data.positive_label,
            evals_per_epoch=self.study.evals_per_epoch,
            study_name=self.study.name,
            output_dir=self.output_dir,
        )

    @property
    def study_setup(self) -> StudySetup:
        """The part of this config that opening and seeding its study reads
        (:class:`StudySetup`)."""
        return StudySetup(
            study=self.study,
            storage_url=self.storage_url,
            search_space=self.search_space,
            training=self.training,
            reference=self.reference,
            positive_label=self.data.positive_label,
            output_dir=self.output_dir,
            resolved=self.to_dict(absolute=True),
        )

    def value_of(self, key: str) -> Any:
        """The value of a dotted key (``data.max_length``); a search-space entry as plain
        data, None where the key is not set."""
        section, _, name = key.partition(".")
        if section == "search_space":
            spec = self.search_space.get(name)
            return spec.to_dict() if spec is not None else None
        if section in ("training", "reference"):
            return getattr(self, section).get(name)
        return getattr(getattr(self, section), name)

    def to_dict(self, *, absolute: bool = False) -> dict[str, Any]:
        """The resolved config as plain data (YAML/JSON-safe), defaults filled in.

        ``absolute``: the default storage and output folder as absolute paths too (they are
        relative to the current folder), so the result runs the same study from any folder.
        """
        out = dataclasses.asdict(self)
        out.pop("source")
        out.pop("explicit")
        out["study"]["storage"] = self.storage_url
        if absolute:
            out["study"]["storage"] = absolute_sqlite_url(self.storage_url, Path.cwd())
            out["training"]["output_dir"] = str(normalized_path(self.output_dir.absolute()))
        out["search_space"] = {name: spec.to_dict() for name, spec in self.search_space.items()}
        return out

    def to_yaml(self, *, absolute: bool = False, given: bool = False) -> str:
        """The resolved config as YAML, in section order (see :meth:`to_dict`). ``given``:
        only the keys the user set (:attr:`explicit`) and the study's name, storage and
        workers, so that a process that loads it plans the same keys the planner was left
        (``hpo launch slurm --budget``'s job config), not every default filled in."""
        full = self.to_dict(absolute=absolute)
        if not given:
            return yaml.safe_dump(full, sort_keys=False)
        keys = set(self.explicit) | {"study.name", "study.storage", "study.workers"}
        raw: dict[str, dict] = {}
        for section in full:  # in the config's own section order
            for key in sorted(k for k in keys if k.partition(".")[0] == section):
                name = key.partition(".")[2]
                node = raw.setdefault(section, {})
                if name and name in full[section]:
                    node[name] = full[section][name]
        return yaml.safe_dump(raw, sort_keys=False)


@dataclass(frozen=True)
class TrainerSetup:
    """What building and timing a Trainer reads of a config (:attr:`HpoConfig.trainer_setup`):
    the backbone, the training keys (searched, fixed, reference), how an evaluation is scored
    and where tracking writes. No data source, storage, budget or study policy: the layers
    that train are handed this, not the whole config."""

    #: The backbone (:attr:`HpoConfig.model`).
    model: ModelSection
    #: The searched ``TrainingArguments`` keys (:attr:`HpoConfig.search_space`).
    search_space: dict[str, ParamSpec]
    #: The fixed ``TrainingArguments`` keys (:attr:`HpoConfig.training`).
    training: dict[str, Any]
    #: The reference setup's values (:attr:`HpoConfig.reference`).
    reference: dict[str, Any]
    #: ``study.metric``: what an evaluation scores.
    metric: str
    #: ``data.positive_label``: the class the binary metrics score.
    positive_label: str | int | None
    #: ``study.evals_per_epoch``.
    evals_per_epoch: int
    #: ``study.name``: tracking runs are named after it.
    study_name: str
    #: The run folder (:attr:`HpoConfig.output_dir`).
    output_dir: Path


@dataclass(frozen=True)
class StudySetup:
    """What opening a study and seeding its first trials reads of a config
    (:attr:`HpoConfig.study_setup`): where the study is stored, how Optuna samples and prunes
    it, what its trials' values measure, the settings enqueued first, and the resolved config
    kept beside it. No data source or backbone: the search stage loads those itself."""

    #: ``study``: its name, direction, sampler and pruner.
    study: StudySection
    #: :attr:`HpoConfig.storage_url`.
    storage_url: str
    #: The searched keys: the study's space, and the strong default's.
    search_space: dict[str, ParamSpec]
    #: The fixed keys (the strong default's other values).
    training: dict[str, Any]
    #: The reference setup, enqueued after the strong default.
    reference: dict[str, Any]
    #: ``data.positive_label``: with ``study.metric``, what a trial's value measures.
    positive_label: str | int | None
    #: The run folder, where the resolved config is saved (``config.yaml``).
    output_dir: Path
    #: The resolved config with absolute paths (:meth:`HpoConfig.to_dict`), saved on the study
    #: and in the run folder so that a worker anywhere runs the same study.
    resolved: dict[str, Any]

    def to_yaml(self) -> str:
        """:attr:`resolved` as YAML, in section order (what ``config.yaml`` holds)."""
        return yaml.safe_dump(self.resolved, sort_keys=False)


#: The sections of a config with a dataclass of their own, by key.
SECTIONS: dict[str, type] = {
    "study": StudySection,
    "model": ModelSection,
    "data": DataSection,
}


def normalized_path(path: Path) -> Path:
    """``path`` with "a/../b" folded, without following links, as a user reads the path."""
    return Path(os.path.normpath(path))


def absolute_sqlite_url(url: str, base: Path) -> str:
    """A ``sqlite:///relative.db`` URL with its file made absolute against ``base``; any other
    URL as it is."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    file, sep, query = url[len(prefix) :].partition("?")
    if not file or file == ":memory:" or file.startswith("/"):
        return url
    return f"{prefix}{normalized_path(base / file)}{sep}{query}"
