"""Accuracy as an `evaluate` module, shipped with hpo so it loads without the Hub.

`evaluate.load("accuracy")` fetches the module from the Hugging Face Hub; this file has the same
interface (predictions, references -> {"accuracy": float}) and is loaded by its local path.
"""

import datasets
import evaluate

_DESCRIPTION = "Accuracy: the fraction of predictions equal to the references."
_CITATION = ""
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): ground truth labels.
Returns:
    accuracy (float): correct / total, in [0, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references):
        if len(predictions) == 0:
            raise ValueError("accuracy of zero predictions is undefined")
        correct = sum(int(p == r) for p, r in zip(predictions, references, strict=False))
        return {"accuracy": float(correct / len(predictions))}
