"""Published facts the GPU-hours estimate needs: GPU datasheet peaks and model architectures.

Nothing here is measured by us. GPU figures are the vendors' datasheet peaks (dense BF16 tensor
throughput, no sparsity; HBM bandwidth). A model's geometry (layers, key/value heads, head width,
pixels per visual token) is read from its ``config.json``: the fetched one in the hub cache at the
pinned revision, else the published copy kept in :mod:`harness.models.published`
(:func:`architecture`). The catalogue below is the fallback for a model with neither, and holds the
parameter counts: exact where we built the published config on the meta device
(``bench/audit_gpu.py --dry-run``, ``bench/selfdpo_gpu.py --dry-run``), else the model card's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.registry import Registry


@dataclass(frozen=True)
class GPU:
    """One accelerator's datasheet peaks."""

    name: str
    bf16_tflops: float  # dense BF16 tensor-core peak, TFLOP/s
    hbm_tb_s: float     # memory bandwidth, TB/s
    source: str

    @property
    def flops(self) -> float:
        return self.bf16_tflops * 1e12

    @property
    def bytes_per_s(self) -> float:
        return self.hbm_tb_s * 1e12


GPUS: Registry[GPU] = Registry("GPU type")
for _gpu in (
    GPU("H100-80GB", 989.4, 3.35, "NVIDIA H100 SXM5 datasheet"),
    GPU("H100-PCIe", 756.0, 2.0, "NVIDIA H100 PCIe datasheet"),
    GPU("H200", 989.4, 4.8, "NVIDIA H200 SXM datasheet"),
    GPU("A100-80GB", 312.0, 2.039, "NVIDIA A100 SXM4 80GB datasheet"),
    GPU("A100-40GB", 312.0, 1.555, "NVIDIA A100 SXM4 40GB datasheet"),
    GPU("L40S", 362.05, 0.864, "NVIDIA L40S datasheet"),
    GPU("B200", 2250.0, 8.0, "NVIDIA B200 (HGX) datasheet"),
):
    GPUS.register(_gpu.name)(_gpu)

DEFAULT_GPU = "H100-80GB"


@dataclass(frozen=True)
class Architecture:
    """What decides a model's cost per token: its weights, its KV cache and its visual tokens."""

    hub_id: str
    parameters: int       # all weights, vision tower included
    layers: int           # language-model decoder layers
    kv_heads: int
    head_dim: int
    pixels_per_token: int  # side of the square of pixels one visual token covers (patch x spatial merge)
    # where the geometry was read (:func:`architecture`)
    source: str = field(default="catalogue (harness/hardware.py)", compare=False)

    def kv_bytes_per_token(self, bytes_per_value: int = 2) -> int:
        """Key + value cache of one token across all layers (bf16: 2 bytes per value)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value

    def image_tokens(self, side_px: int) -> int:
        """Visual tokens of one square image of ``side_px`` pixels, rounded as the processors round."""
        return square_image_tokens(side_px, self.pixels_per_token)


def square_image_tokens(side_px: int, pixels_per_token: int) -> int:
    """Visual tokens of one square image of ``side_px`` pixels at ``pixels_per_token`` a side, rounded as the
    processors round."""
    per_side = max(1, round(side_px / pixels_per_token))
    return per_side * per_side


ARCHITECTURES: Registry[Architecture] = Registry("model architecture")
for _arch in (
    # Qwen3-VL: patch 16, spatial merge 2 -> 32 px per visual token.
    Architecture("Qwen/Qwen3-VL-2B-Instruct", 2_127_532_032, 28, 8, 128, 32),
    Architecture("Qwen/Qwen3-VL-4B-Instruct", 4_440_000_000, 36, 8, 128, 32),
    Architecture("Qwen/Qwen3-VL-8B-Instruct", 8_767_123_696, 36, 8, 128, 32),
    # Qwen2.5-VL: patch 14, spatial merge 2 -> 28 px per visual token.
    Architecture("Qwen/Qwen2.5-VL-3B-Instruct", 3_750_000_000, 36, 2, 128, 28),
    Architecture("Qwen/Qwen2.5-VL-7B-Instruct", 8_290_000_000, 28, 4, 128, 28),
    # A reward model on the Qwen2.5-VL-7B-Instruct backbone (plus a 3,585-parameter value head).
    Architecture("Skywork/Skywork-VL-Reward-7B", 8_290_000_000, 28, 4, 128, 28),
):
    ARCHITECTURES.register(_arch.hub_id)(_arch)


def config_geometry(config: dict) -> dict[str, int] | None:
    """``layers``, ``kv_heads``, ``head_dim`` and ``pixels_per_token`` of a ``config.json``, or None if it has no
    decoder geometry. Qwen2.5-VL's published config keeps the text model's fields at the top level, Qwen3-VL's (and
    any config transformers 5 saved) in ``text_config``; the head width is ``head_dim`` where given, else
    hidden / heads; a visual token covers patch x spatial merge pixels a side (28 where there is no vision tower)."""
    text = config.get("text_config") or config
    try:
        layers, heads = int(text["num_hidden_layers"]), int(text["num_attention_heads"])
        head_dim = int(text.get("head_dim") or int(text["hidden_size"]) // heads)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    vision = config.get("vision_config") or {}
    patch, merge = vision.get("patch_size"), vision.get("spatial_merge_size")
    return {"layers": layers, "kv_heads": int(text.get("num_key_value_heads") or heads), "head_dim": head_dim,
            "pixels_per_token": int(patch) * int(merge) if patch and merge else 28}


def checkpoint_config(hub_id: str, revision: str = "main") -> tuple[dict, str] | None:
    """``hub_id``'s ``config.json`` and where it was read: the hub cache at ``revision``, else the published copy
    (:func:`harness.models.published.checkpoint_json`); None if neither."""
    from harness.models.published import checkpoint_json

    return checkpoint_json(hub_id, "config.json", revision)


def architecture(hub_id: str | None, parameters: int | None = None, revision: str = "main") -> Architecture | None:
    """``hub_id``'s architecture: its geometry from its ``config.json`` (:func:`checkpoint_config`) with the
    catalogue's parameter count (else ``parameters``); the catalogue entry alone when there is no config; else, if
    the parameter count is known, one with no KV cache (its geometry is unknown: decoding is then costed by weight
    reads alone)."""
    table = ARCHITECTURES.get(hub_id) if hub_id and hub_id in ARCHITECTURES else None
    params = table.parameters if table is not None else parameters
    found = checkpoint_config(hub_id, revision) if hub_id else None
    geometry = config_geometry(found[0]) if found is not None else None
    if geometry is not None and params:
        return Architecture(hub_id, params, **geometry, source=found[1])
    if table is not None:
        return table
    if parameters:
        return Architecture(hub_id or "unknown", parameters, 0, 0, 0, 28, source="parameter count only")
    return None
