"""The seed coverage map: every question of every seed article maps to a bank id or an exclusion.

One YAML file per seed article in ``questions/coverage/``::

    seed: 000_e480b1b35cfebef7.txt
    questions:
      - line: 19                 # where the question stands in the seed (001: its answer)
        ask: What is ...?         # as the article asks it (reconstructed for 001)
        bank_id: fundamentals-dl-vs-ml      # or: excluded: <reason>
        note: optional, e.g. a seed error that the bank corrects
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.domain.bank import Bank


class CoverageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(ge=1)
    ask: str = Field(min_length=3)
    bank_id: str | None = None
    excluded: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _exactly_one_outcome(self) -> CoverageEntry:
        if (self.bank_id is None) == (self.excluded is None):
            raise ValueError("each entry needs exactly one of bank_id or excluded")
        return self


class SeedCoverage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: str
    questions: list[CoverageEntry]


@dataclass(frozen=True)
class CoverageRow:
    seed: str
    mapped: int
    excluded: int
    total: int
    unknown_ids: int


def load_coverage(directory: Path) -> list[SeedCoverage]:
    maps = []
    for path in sorted(directory.glob("*.yaml")):
        maps.append(SeedCoverage.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))))
    return maps


def coverage_summary(directory: Path, bank: Bank) -> list[CoverageRow]:
    if not directory.is_dir():
        return []
    ids = set(bank.by_id())
    rows = []
    for seed_map in load_coverage(directory):
        mapped = [entry for entry in seed_map.questions if entry.bank_id]
        rows.append(
            CoverageRow(
                seed=seed_map.seed,
                mapped=len(mapped),
                excluded=sum(entry.excluded is not None for entry in seed_map.questions),
                total=len(seed_map.questions),
                unknown_ids=sum(entry.bank_id not in ids for entry in mapped),
            )
        )
    return rows
