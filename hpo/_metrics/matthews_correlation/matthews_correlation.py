"""Matthews correlation as an `evaluate` module, shipped with hpo so it loads without the Hub.

Same interface as the Hub's "matthews_correlation" module: predictions, references ->
{"matthews_correlation": float}. Loaded by its local path.
"""

import datasets
import evaluate
from sklearn.metrics import matthews_corrcoef

_DESCRIPTION = (
    "Matthews correlation coefficient: the correlation of predicted and true classes, in "
    "[-1, 1]; 0 is chance, whatever the class balance. Multi-class as in scikit-learn."
)
_CITATION = ""
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): ground truth labels.
Returns:
    matthews_correlation (float): in [-1, 1].
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MatthewsCorrelation(evaluate.Metric):
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
            raise ValueError("Matthews correlation of zero predictions is undefined")
        return {"matthews_correlation": float(matthews_corrcoef(references, predictions))}
