"""The sweep's grid: its YAML section and the arms it expands to. An arm is the scenario with
one adaptation method (on the direct path) or one transit path, one setting of its keys and
one seed, validated as a whole scenario before anything trains."""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import Field

from components.adaptation.spec import NEEDS, PATHS
from components.errors import StepstoneError
from pipelines.config import PipelineConfig, Strict, validated

Runner = Literal["threads", "processes", "dask"]
Grid = dict[str, dict[str, list[Any]]]


class SweepSpec(Strict):
    """The grid and how to run it. `methods` maps an adaptation method to lists of values for
    `adaptation` keys; `paths` maps a transit path (gradual, progressive, joint) to lists of
    values for its `transit` keys (`draws`, or the keys of transit.gradual / transit.joint).
    Each entry's product is swept; unset keys keep the scenario's values."""

    methods: Grid = Field(default_factory=lambda: {"source_only": {}, "finetune": {}, "l2sp": {}})
    paths: Grid = Field(default_factory=dict)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    # cv: each arm's repeated k-fold estimate on the labelled target rows (choice.folds x
    # choice.repeats); the rest are label-free. auto: cv when the labels allow the folds.
    criterion: Literal["auto", "cv", "iwv", "dev", "entropy", "snd"] = "auto"
    runner: Runner = "threads"
    max_workers: int = Field(2, ge=1)
    dask_address: str | None = None  # a running Dask scheduler; None starts a local cluster
    source_rows: int = Field(5000, ge=0)  # source rows given to arms that train on it; 0 = all
    validation_rows: int = Field(2000, ge=10)  # held-out source rows for IWV / DEV
    register_best: bool = True


class SweepConfig(PipelineConfig):
    """A scenario plus its `sweep` section."""

    sweep: SweepSpec = SweepSpec()


def _check_names(spec: SweepSpec) -> None:
    for method in spec.methods:
        if method not in NEEDS:
            raise StepstoneError(
                f"sweep.methods has unknown method {method!r}; valid: {sorted(NEEDS)}."
            )
    paths = sorted(p for p in PATHS if p != "direct")
    for path in spec.paths:
        if path not in paths:
            raise StepstoneError(
                f"sweep.paths has unknown path {path!r}; valid: {paths} (the direct path is "
                "each of sweep.methods)."
            )


def _arm_scenario(base: dict, group: str, name: str, params: dict) -> dict:
    """The scenario with this arm's method or path and settings laid over it."""
    scenario = {**base, "adaptation": dict(base["adaptation"]), "transit": dict(base["transit"])}
    if group == "methods":
        scenario["adaptation"].update(params, method=name)
        scenario["transit"].update(path="direct", draws=1)
        return scenario
    section = PATHS[name]
    scenario["transit"].update(path=name, draws=1)
    for key, value in params.items():
        if key in scenario["transit"] and key not in ("gradual", "joint"):
            scenario["transit"][key] = value
        else:
            scenario["transit"][section] = {**scenario["transit"][section], key: value}
    return scenario


def expand_arms(config: SweepConfig) -> list[dict]:
    """Every (method or path, setting, seed) as an arm: its id, configuration name, seed,
    settings and whole scenario (plain JSON, so that a worker process can rebuild it)."""
    _check_names(config.sweep)
    base = config.model_dump(mode="json", by_alias=True, exclude={"sweep"})
    arms = []
    for group, grids in (("methods", config.sweep.methods), ("paths", config.sweep.paths)):
        for name, grid in grids.items():
            keys = sorted(grid)
            for values in itertools.product(*(grid[k] for k in keys)):
                params = dict(zip(keys, values))
                label = name + (
                    "[" + ",".join(f"{k}={v}" for k, v in params.items()) + "]" if params else ""
                )
                scenario = validated(
                    _arm_scenario(base, group, name, params), f"sweep.{group}.{label}"
                ).model_dump(mode="json", by_alias=True)
                for seed in config.sweep.seeds:
                    arms.append(
                        {
                            "id": f"{label}/seed{seed}",
                            "config": label,
                            "seed": seed,
                            "params": params,
                            "method": scenario["adaptation"]["method"],
                            "path": scenario["transit"]["path"],
                            "scenario": {**scenario, "seed": seed},
                        }
                    )
    return arms


def arm_config(arm: dict) -> PipelineConfig:
    """The arm's scenario, as its task reads it."""
    return PipelineConfig.model_validate(arm["scenario"])
