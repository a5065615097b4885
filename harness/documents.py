"""The typed documents the runner hands to the CLI and the estimate: what a run will do (its plan).

A plan is computed without loading a model or a dataset: item counts come from each task's declared size
(:meth:`harness.tasks.Task.planned_items`) and the protocol's split rule.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TaskPlan(BaseModel):
    """One task's share of a run, for one training run of each student (the estimate multiplies by the seeds)."""

    task: str
    items: int = Field(description="Items in the task's protocol split (its declared size).")
    audit_items: int = Field(description="Held-out audit items judged.")
    k: int = Field(description="Candidates per audit item and student.")
    students: int
    audit_judgments: int = Field(description="audit_items x k x students.")
    selfdpo_rounds: int
    selfdpo_prompts: int = Field(description="Train prompts sampled per round.")
    k_train: int = Field(description="Candidates per self-DPO prompt.")
    selfdpo_judgments: int = Field(description="rounds x prompts x k_train, per student and training run.")
    test_items: int = Field(description="Test items each student answers before and after self-DPO.")


class Plan(BaseModel):
    """``ladder run --dry-run``: stages, counts and the GPU-hour estimate (:func:`harness.estimate.estimate`)."""

    verifier: str
    protocol: str = Field(description="Protocol version.")
    profile: str
    stages: list[str]
    tasks: list[TaskPlan]
    estimate: dict[str, Any] = Field(description="GPU-hours and dollars by task, stage and kind of work.")
