"""Turn measured usage into dollars with the manifest's cost basis (pure).

The basis (prices and the date they were taken) is stored with every result, so a later
price change never rewrites an old row. A GPU price is only applied to time measured on a
GPU: a CPU run of a GPU-priced verifier reports its usage but no dollar figure.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from harness.submission import CostBasis


class Usage(BaseModel):
    judgments: int = 0
    wall_seconds: float = 0.0
    device_seconds: float = 0.0
    device: str = Field(default="none", description="'cuda', 'cpu', 'remote' (an API) or 'none' (simulated).")
    input_tokens: int = 0
    output_tokens: int = 0


class Cost(Usage):
    usd: float | None = None
    usd_per_1k_judgments: float | None = None
    device_hours_per_1k_judgments: float | None = None
    basis: CostBasis
    note: str = ""


def price(usage: Usage, basis: CostBasis) -> Cost:
    per_1k = 1000 / usage.judgments if usage.judgments else None
    usd, note = None, ""
    if basis.kind == "none":
        usd = 0.0
    elif basis.kind == "api":
        usd = (usage.input_tokens * (basis.usd_per_1m_input_tokens or 0)
               + usage.output_tokens * (basis.usd_per_1m_output_tokens or 0)) / 1e6
    elif usage.device == "cuda":
        usd = usage.device_seconds / 3600 * (basis.usd_per_gpu_hour or 0)
    else:
        note = f"measured on {usage.device}: the {basis.gpu_type} price does not apply"
    dh = usage.device_seconds / 3600 * per_1k if per_1k and usage.device in ("cuda", "cpu") else None
    return Cost(**usage.model_dump(), usd=usd, usd_per_1k_judgments=usd * per_1k if usd is not None and per_1k else
                None, device_hours_per_1k_judgments=dh, basis=basis, note=note)
