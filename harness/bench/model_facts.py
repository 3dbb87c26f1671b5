"""The write-up's multi-task model at its own dimensions, measured: parameters, weight and checkpoint bytes
(for the report's claims about them; the benchmark stage writes them, the report reads them)."""

from __future__ import annotations

import io
from typing import Any

import torch

from harness.models import build_model, count_parameters


def paper_model_facts() -> dict[str, Any]:
    """Parameter count and checkpoint size of the multi-task model at the write-up's dimensions
    (efficientnet_b0, built here without pretrained weights), measured: the weights alone, and the
    weights with AdamW's state after one step, serialised with torch.save."""
    import yaml

    from harness.config import compose_params

    params = yaml.safe_load(compose_params(["profile=paper"]))
    torch.manual_seed(0)
    model = build_model("multitask", params["model"]["multitask"], len(params["data"]["classes"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    out = model(torch.randint(0, 256, (1, 2, 3, 32, 32), dtype=torch.uint8))
    out["logits"].float().sum().backward()
    optimizer.step()

    def size(obj: Any) -> float:
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        return round(buffer.tell() / 1e6, 2)

    parameters = count_parameters(model)
    return {"parameters": parameters, "parameters_millions": round(parameters / 1e6, 4), "backbone": params["model"]["multitask"]["backbone"],
            "weights_megabytes": size(model.state_dict()),
            "checkpoint_megabytes": size({"model": model.state_dict(), "optimizer": optimizer.state_dict()})}
