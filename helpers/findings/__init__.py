"""Findings as data: what the "Observed" text of each chapter claims, computed from Histories, no prose.

Each finding is a frozen dataclass with a function that computes it; helpers.observed renders them
as Markdown. Every function accepts any subset of runs a user can configure (missing runs, one
device, one seed, one epoch, diverged runs) and says what is missing instead of raising.
"""
from .devices import DeviceComparison, PipelineComparison, PipelineGain, compare_devices, compare_pipelines
from .overfitting import Overfitting, overfitting
from .runs import (CHANCE, CHANCE_MARGIN, JAGGED, OVERFIT_RISE, RunSummary, at_chance, column, notable_fall,
                   recorded_device, run_summary)
from .ranking import OptimizerRanking, rank_arms, rank_optimizers
from .seeds import Arm, ModelComparison, Verdict, arm, compare_arms, compare_models
from .selection import (LearningRateChoice, OptimizerSweep, RateOutcome, choose_learning_rate, rate_outcome,
                        sweep)
from .step import SHEET_RATES, StepEffect, step_effect

__all__ = [
    "CHANCE", "CHANCE_MARGIN", "JAGGED", "OVERFIT_RISE", "Arm", "DeviceComparison", "LearningRateChoice",
    "ModelComparison", "OptimizerRanking", "OptimizerSweep", "Overfitting", "PipelineComparison", "PipelineGain",
    "RateOutcome", "RunSummary", "SHEET_RATES", "StepEffect", "Verdict", "arm", "at_chance", "choose_learning_rate",
    "column", "compare_arms", "compare_devices", "compare_models", "compare_pipelines", "notable_fall", "overfitting",
    "rank_arms", "rank_optimizers", "rate_outcome", "recorded_device", "run_summary", "step_effect", "sweep",
]
