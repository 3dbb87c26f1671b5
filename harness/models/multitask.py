"""The write-up's multi-task model (reference.md section 1).

frames -> timm backbone per frame -> dropout on the pooled features -> BiLSTM (2 layers, bidirectional) -> LayerNorm -> Transformer
encoder with a learned relative position bias -> mean over time -> 256-d embedding, read by four heads:

- regression: the future frame's features (the backbone's features of the target PNG through a fixed
  projection, with gradients stopped so the target cannot collapse), smooth-L1;
- classification: 14 classes, focal loss;
- VAE: encodes the embedding to a 64-d latent and reconstructs it, MSE + beta * KL;
- MIL: an anomaly score per time step (the bag's instances), ranked by the MIL loss.

Initialisation follows the write-up (section 4.5d): Xavier for linear layers, LSTM forget-gate bias 1.
"""

from __future__ import annotations

import itertools

import timm
import torch
import torch.nn.functional as F
from torch import nn

from harness.config import MultiTaskConfig


def mlp(sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear-ReLU-Dropout blocks; the last layer is a plain Linear."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(inplace=True), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class RelativePositionBias(nn.Module):
    """A learned bias per head and clipped relative distance, added to attention scores (T5-style)."""

    def __init__(self, heads: int, max_distance: int):
        super().__init__()
        self.max_distance = max_distance
        self.bias = nn.Embedding(2 * max_distance + 1, heads)
        nn.init.zeros_(self.bias.weight)

    def forward(self, length: int) -> torch.Tensor:
        positions = torch.arange(length, device=self.bias.weight.device)
        distance = (positions[None, :] - positions[:, None]).clamp(-self.max_distance, self.max_distance)
        return self.bias(distance + self.max_distance).permute(2, 0, 1)  # (heads, T, T)


class RelativeEncoderLayer(nn.Module):
    """A post-norm Transformer encoder layer (the shape of nn.TransformerEncoderLayer, same parameters)
    whose attention adds the relative position bias.

    Written out because nn.TransformerEncoderLayer's inference fast path returned NaN for a per-head
    float mask (torch 2.15, CPU) once the bias was non-zero; scaled_dot_product_attention takes the
    bias as a broadcast (heads, T, T) mask on every path.
    """

    def __init__(self, width: int, heads: int, feedforward: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.feedforward = nn.Sequential(nn.Linear(width, feedforward), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                         nn.Linear(feedforward, width))
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, width = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype),
                                                  dropout_p=self.dropout if self.training else 0.0)
        x = self.norm1(x + self.drop1(self.out(attended.transpose(1, 2).reshape(b, t, width))))
        return self.norm2(x + self.drop2(self.feedforward(x)))


class VAEHead(nn.Module):
    def __init__(self, dim: int, hidden: tuple[int, ...], latent: int):
        super().__init__()
        self.encoder = mlp([dim, *hidden], 0.0) if hidden else nn.Identity()
        last = hidden[-1] if hidden else dim
        self.act = nn.ReLU(inplace=True) if hidden else nn.Identity()
        self.mu, self.logvar = nn.Linear(last, latent), nn.Linear(last, latent)
        self.decoder = mlp([latent, *reversed(hidden), dim], 0.0)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.act(self.encoder(x))
        mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return {"vae_recon": self.decoder(z), "vae_mu": mu, "vae_logvar": logvar}


class MultiTaskModel(nn.Module):
    def __init__(self, cfg: MultiTaskConfig, n_classes: int):
        super().__init__()
        from harness.models import Normalise

        self.cfg = cfg
        self.pretrained_backbone = bool(cfg.pretrained_weights)  # progressive unfreezing protects only this
        self.normalise = Normalise()
        self.backbone = timm.create_model(cfg.backbone, pretrained=False, num_classes=0)
        if cfg.pretrained_weights:
            state = torch.load(cfg.pretrained_weights, map_location="cpu", weights_only=True)
            self.backbone.load_state_dict(state, strict=False)
        features = self.backbone.num_features
        self.feature_dropout = nn.Dropout(cfg.feature_dropout)
        self.lstm = nn.LSTM(features, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True,
                            bidirectional=True, dropout=cfg.lstm_dropout if cfg.lstm_layers > 1 else 0.0)
        width = 2 * cfg.lstm_hidden
        self.lstm_norm = nn.LayerNorm(width) if cfg.lstm_norm else nn.Identity()
        self.position_bias = RelativePositionBias(cfg.transformer_heads, cfg.max_relative_position)
        self.transformer = nn.ModuleList(
            RelativeEncoderLayer(width, cfg.transformer_heads, cfg.transformer_ff, cfg.transformer_dropout)
            for _ in range(cfg.transformer_layers))
        self.embed = nn.Linear(width, cfg.embed_dim)
        self.target_projection = nn.Linear(features, cfg.regression_dim)
        self.target_projection.requires_grad_(False)  # a fixed random projection: the target cannot collapse
        self.regression = mlp([cfg.embed_dim, *cfg.regression_hidden, cfg.regression_dim], cfg.regression_dropout)
        self.classifier = mlp([cfg.embed_dim, *cfg.classifier_hidden, n_classes], cfg.classifier_dropout)
        self.vae = VAEHead(cfg.embed_dim, cfg.vae_hidden, cfg.vae_latent)
        self.mil = nn.Linear(width, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        for name, module in self.named_modules():
            if name.startswith("backbone"):
                continue
            if isinstance(module, nn.Linear) and module.weight.requires_grad:
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for name, param in self.lstm.named_parameters():
            if "bias" in name:
                n = param.size(0)
                param.data[n // 4 : n // 2].fill_(1.0)  # forget gate: remember by default

    def backbone_parameters(self):
        return self.backbone.parameters()

    def forward(self, clip: torch.Tensor, future: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        b, t = clip.shape[:2]
        frames = clip.flatten(0, 1)
        if future is not None:  # one backbone pass over the window and its future frames
            frames = torch.cat([frames, future], dim=0)
        features = self.backbone(self.normalise(frames))
        sequence = self.feature_dropout(features[: b * t].view(b, t, -1))
        hidden, _ = self.lstm(sequence)
        hidden = self.lstm_norm(hidden)
        bias = self.position_bias(t) if self.cfg.relative_positions else hidden.new_zeros(1, t, t)
        for layer in self.transformer:
            hidden = layer(hidden, bias)
        embedding = self.embed(hidden.mean(dim=1))
        out = {
            "embedding": embedding,
            "logits": self.classifier(embedding),
            "regression": self.regression(embedding),
            "mil_scores": torch.sigmoid(self.mil(hidden).squeeze(-1)),  # (B, T) instance scores
            **self.vae(embedding),
        }
        if future is not None:
            out["regression_target"] = self.target_projection(features[b * t :].detach())
        return out
