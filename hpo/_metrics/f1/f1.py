"""F1 as an `evaluate` module, shipped with hpo so it loads without the Hub.

Same interface as the Hub's "f1" module: predictions, references and the scikit-learn arguments
``average``, ``pos_label``, ``labels`` -> {"f1": float}. Loaded by its local path.
"""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = "F1: the harmonic mean of precision and recall, per class or averaged over classes."
_CITATION = ""
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): ground truth labels.
    average (str): "binary" (F1 of pos_label), "macro" (unweighted mean over classes),
        "weighted" (mean weighted by support) or "micro".
    pos_label (int): the positive class when average="binary".
    labels (list of int): the classes to average over; a class never predicted scores 0.
Returns:
    f1 (float): in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references, average="binary", pos_label=1, labels=None):
        if len(predictions) == 0:
            raise ValueError("F1 of zero predictions is undefined")
        value = f1_score(
            references,
            predictions,
            average=average,
            pos_label=pos_label,
            labels=labels,
            zero_division=0,
        )
        return {"f1": float(value)}
