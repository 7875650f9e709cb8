"""The validation SELD score of a model during training (model selection and early stopping).

It predicts with :mod:`soundloc.train.predict` and scores with :mod:`soundloc.metrics.seld`, so it
lives here, above both: :mod:`soundloc.train` may not import :mod:`soundloc.metrics` (layers), and
the trainer takes any picklable ``val_score`` callable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SeldValidation:
    """The validation SELD score of a model, for model selection during training (picklable for DDP).

    ``__call__(model)`` predicts every file of ``split`` of ``data`` in windows of ``window_seconds``
    and scores it as one set: DCASE2024 for multi-ACCDDOA models (they predict distances), DCASE2023
    otherwise. Returns ``{"seld": SELD score (lower is better), "F", "ER", "LR", "metric"}``.
    """

    data: str
    split: str
    window_seconds: float
    batch_size: int = 8

    def __call__(self, model: Any) -> dict[str, Any]:
        from soundloc.dataformat import read_dcase_csv
        from soundloc.metrics.seld import get_seld_scorer
        from soundloc.train.predict import predict_split

        device = next(model.parameters()).device
        preds = predict_split(model, self.data, self.split, window_seconds=self.window_seconds, batch_size=self.batch_size,
                              device=device)
        n = model.config.input.num_classes
        metric = "dcase2024" if model.config.head == "multi-accddoa" else "dcase2023"
        scorer = get_seld_scorer(metric, num_classes=n)
        for p in preds:
            scorer.update(read_dcase_csv(p.reference, distance_unit="cm"), p.labels, ref_name=str(p.reference))
        r = scorer.result().to_dict()
        return {"seld": r["SELD_score"], "F": r["F"], "ER": r["ER"], "LR": r["LR"], "metric": metric}
