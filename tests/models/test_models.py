"""The two models: shapes, the write-up's initialisation, parameter counts, and eval-mode sanity."""

from __future__ import annotations

import pytest
import torch
from helpers import compose

from harness.errors import ConfigError
from harness.models import build_model, count_parameters


@pytest.fixture(scope="module")
def smoke_model_params():
    return compose("profile=smoke")["model"]


def test_multitask_outputs(smoke_model_params):
    torch.manual_seed(0)
    model = build_model("multitask", smoke_model_params["multitask"], 14)
    clip = torch.randint(0, 255, (3, 16, 3, 32, 32), dtype=torch.uint8)
    future = torch.randint(0, 255, (3, 3, 32, 32), dtype=torch.uint8)
    out = model(clip, future)
    dim = smoke_model_params["multitask"]["embed_dim"]
    assert out["logits"].shape == (3, 14)
    assert out["mil_scores"].shape == (3, 16) and ((out["mil_scores"] >= 0) & (out["mil_scores"] <= 1)).all()
    assert out["regression"].shape == out["regression_target"].shape
    assert not out["regression_target"].requires_grad  # stop-gradient on the target
    assert out["embedding"].shape == (3, dim) and out["vae_recon"].shape == (3, dim)
    assert "regression_target" not in model(clip)


def test_writeup_initialisation(smoke_model_params):
    model = build_model("multitask", smoke_model_params["multitask"], 14)
    for name, param in model.lstm.named_parameters():
        if "bias" in name:
            quarter = param.size(0) // 4
            assert torch.all(param[quarter : 2 * quarter] == 1.0)  # forget gate


def test_paper_model_parameter_count():
    params = compose("profile=paper")["model"]["multitask"]
    count = count_parameters(build_model("multitask", params, 14))
    # efficientnet_b0 (4.01 M) + BiLSTM (4.73 M) + 2 Transformer layers (4.21 M) + heads: the write-up says 14.97 M
    assert count == 14_052_499


def test_baseline_has_no_dropout_and_no_batch_statistics(smoke_model_params):
    model = build_model("baseline", smoke_model_params["baseline"], 14)
    assert not any(isinstance(m, (torch.nn.Dropout, torch.nn.BatchNorm2d)) for m in model.modules())
    assert model(torch.randint(0, 255, (2, 16, 3, 32, 32), dtype=torch.uint8))["logits"].shape == (2, 14)


def test_eval_mode_is_finite_with_a_trained_position_bias(smoke_model_params):
    """Regression test: nn.TransformerEncoderLayer's inference fast path returned NaN for this mask."""
    torch.manual_seed(0)
    model = build_model("multitask", smoke_model_params["multitask"], 14)
    torch.nn.init.normal_(model.position_bias.bias.weight, std=1.0)
    model.eval()
    with torch.no_grad():
        logits = model(torch.randint(0, 255, (64, 16, 3, 32, 32), dtype=torch.uint8))["logits"]
    assert torch.isfinite(logits).all()


def test_bad_model_params_name_the_key():
    params = dict(compose("profile=smoke")["model"]["multitask"], backbone="no_such_net")
    with pytest.raises(ConfigError, match="model.multitask.backbone = 'no_such_net' is not a timm model name"):
        build_model("multitask", params, 14)
    params = dict(compose("profile=smoke")["model"]["multitask"], transformer_heads=3)
    with pytest.raises(ConfigError, match="transformer_heads = 3 must divide"):
        build_model("multitask", params, 14)


@pytest.mark.gpu
def test_mixed_precision_shrinks_a_training_steps_peak_memory():
    from harness.bench.workloads import step_memory_saving

    device = torch.device("cuda")
    model = torch.nn.Sequential(*[torch.nn.Linear(1024, 1024) for _ in range(8)]).to(device)
    optimizer = torch.optim.AdamW(model.parameters())
    scaler = torch.amp.GradScaler("cuda")
    x = torch.randn(8192, 1024, device=device)  # activations dominate, as with 1,024 frames per step

    def step(amp: bool) -> int:
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            loss = model(x).float().square().mean()
        scaler.scale(loss).backward() if amp else loss.backward()
        scaler.step(optimizer) if amp else optimizer.step()
        if amp:
            scaler.update()
        optimizer.zero_grad(set_to_none=True)
        return len(x)

    step(False), step(True)  # AdamW's state exists before anything is measured, as after the benchmark's warm-up
    result = step_memory_saving(lambda: step(False), lambda: step(True), device)
    assert result["status"] == "measured" and 0 < result["saving"] < 1
    assert result["amp_step_bytes"] < result["fp32_step_bytes"]


def test_the_model_registry_holds_every_name_the_schema_allows():
    import typing

    from harness.config import ModelName
    from harness.models import REGISTRY

    assert set(REGISTRY) == set(typing.get_args(ModelName))
