"""What validation found: one RoundCheck per code block, one ItemCheck per item, a ValidationReport per run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

CODE_STATUSES = ("match", "mismatch", "error", "timeout", "no_code", "unchecked")


@dataclass
class RoundCheck:
    """One code block of an item: what ran, what it printed, how that compares with the recorded output."""

    turn: int
    code_hash: str
    status: str  # the sandbox status: ok | error | timeout | killed
    stdout: str
    error_tail: str
    recorded: str | None
    result: str  # match | mismatch | error | timeout | unchecked
    how: str = ""  # exact | whitespace | numeric, or why it mismatched
    duration: float = 0.0


@dataclass
class ItemCheck:
    """Everything the validator found about one item."""

    index: int
    line: int | None
    schema_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    code_status: str = "no_code"
    rounds: list[RoundCheck] = field(default_factory=list)
    answer: str | None = None
    answer_rule: str = "none"
    answer_status: str = "unknown"  # consistent | inconsistent | unknown
    answer_reason: str = ""
    cached: bool = False

    @property
    def valid(self) -> bool:
        """Fit for training: LLaMA-Factory keeps it, its code reproduces, its answer agrees with the output."""
        return (not self.schema_errors and self.code_status in ("match", "no_code", "unchecked")
                and self.answer_status != "inconsistent")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["valid"] = self.valid
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ItemCheck":
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["rounds"] = [RoundCheck(**r) for r in d.get("rounds", [])]
        return cls(**d)


@dataclass
class ValidationReport:
    """All item checks of one validation, with timing and cache use."""

    path: str | None
    checks: list[ItemCheck]
    elapsed: float = 0.0
    executed: int = 0  # code blocks actually run
    cached_items: int = 0  # items answered from the cache
    cancelled: bool = False

    def summary(self) -> dict:
        """The `mathbench data validate --json` object."""
        c = self.checks
        out = {
            "items": len(c),
            "schema_errors": sum(1 for x in c if x.schema_errors),
            "code_match": sum(1 for x in c if x.code_status == "match"),
            "code_mismatch": sum(1 for x in c if x.code_status == "mismatch"),
            "code_error": sum(1 for x in c if x.code_status == "error"),
            "code_timeout": sum(1 for x in c if x.code_status == "timeout"),
            "no_code": sum(1 for x in c if x.code_status == "no_code"),
            "code_unchecked": sum(1 for x in c if x.code_status == "unchecked"),
            # Errors from a module this environment lacks (e.g. scipy), not from the item's code itself.
            "code_error_missing_module": sum(
                1 for x in c if x.code_status == "error"
                and any("ModuleNotFoundError" in r.how for r in x.rounds if r.result == "error")),
            "answer_consistent": sum(1 for x in c if x.answer_status == "consistent"),
            "answer_inconsistent": sum(1 for x in c if x.answer_status == "inconsistent"),
            "answer_unknown": sum(1 for x in c if x.answer_status == "unknown"),
            "valid": sum(1 for x in c if x.valid),
            "blocks_executed": self.executed,
            "cached_items": self.cached_items,
            "elapsed_s": round(self.elapsed, 3),
        }
        if self.path:
            out["file"] = self.path
        if self.cancelled:
            out["cancelled"] = True
        return out

    def by_status(self, status: str) -> list[ItemCheck]:
        return [x for x in self.checks if x.code_status == status]
