"""Candidates: the models a run could register, each a recipe that fits on the labelled
target rows (with whatever source and pool rows it uses) and predicts raw rows. The choice
among them is made by cross-validation on the labelled target rows
(components.evaluation.cv)."""

from components.lazy import exports

# Each name loads its submodule on first use (components.lazy).
__getattr__ = exports(
    __name__,
    {
        "Blend": "base",
        "Candidate": "base",
        "MeanPredictor": "base",
        "NetworkPredictor": "base",
        "Predictor": "base",
        "load_predictor": "base",
    },
)
__all__ = ["Blend", "Candidate", "MeanPredictor", "NetworkPredictor", "Predictor", "load_predictor"]
