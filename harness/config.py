"""Configuration: Hydra composition into params.yaml, and typed, validated sections.

The Hydra config groups live in ``harness/conf``. ``compose_params`` builds the same text that DVC's
Hydra integration writes on ``dvc exp run -S ...``; ``make params`` writes it to ``params.yaml``.
A stage reads ``params.yaml`` with ``load_params`` and turns the sections it uses into frozen
dataclasses with ``parse_section``; a wrong value stops with a ``ConfigError`` naming the key.

Every section's schema lives here, and nothing here imports torch: a stage that only reads settings
(the audit, the report) starts without it. Name lists (models, augmentations, split strategies) are
spelled once, below.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from harness.errors import ConfigError

CONF_DIR = Path(__file__).parent / "conf"
PARAMS_FILE = "params.yaml"


# --------------------------------------------------------------------------- composition
def compose_params(overrides: list[str] | None = None) -> str:
    """Compose the Hydra config with ``overrides`` into params.yaml text, exactly as DVC does."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(CONF_DIR), version_base=None):
        cfg = compose(config_name="config", overrides=list(overrides or []))
    OmegaConf.resolve(cfg)
    return OmegaConf.to_yaml(cfg)


def recipe_differences(profile: str) -> list[dict[str, Any]]:
    """Every params.yaml key on which ``recipe=code`` (what the write-up's public code did) differs from
    ``recipe=writeup`` (its prose) under ``profile``: [{key, writeup, code}], sorted by key."""

    def flat(tree: Any, prefix: str = "") -> dict[str, Any]:
        if not isinstance(tree, dict):
            return {prefix: tree}
        return {k: v for name, sub in tree.items() for k, v in flat(sub, f"{prefix}{name}.").items()}

    prose, code = (flat(yaml.safe_load(compose_params([f"profile={profile}", f"recipe={r}"]))) for r in ("writeup", "code"))
    return [{"key": key.rstrip("."), "writeup": prose.get(key), "code": code.get(key)}
            for key in sorted(prose.keys() | code.keys()) if prose.get(key) != code.get(key) and key != "run.recipe."]


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """Read params.yaml as plain data."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: run `make params` or `dvc exp run` to compose it")
    with path.open(encoding="utf-8") as f:
        params = yaml.safe_load(f)
    if not isinstance(params, dict):
        raise ConfigError(f"{path} does not hold a mapping of sections")
    return params


# --------------------------------------------------------------------------- validation
def positive(**kw: Any) -> Any:
    return field(metadata={"check": "positive"}, **kw)


def nonneg(**kw: Any) -> Any:
    return field(metadata={"check": "nonneg"}, **kw)


def fraction(**kw: Any) -> Any:
    """A share strictly between 0 and 1."""
    return field(metadata={"check": "fraction"}, **kw)


def unit(**kw: Any) -> Any:
    """A value in [0, 1]."""
    return field(metadata={"check": "unit"}, **kw)


_CHECKS = {
    "positive": (lambda v: v > 0, "must be greater than 0"),
    "nonneg": (lambda v: v >= 0, "must not be negative"),
    "fraction": (lambda v: 0 < v < 1, "must lie strictly between 0 and 1"),
    "unit": (lambda v: 0 <= v <= 1, "must lie between 0 and 1"),
}


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, str) else json.dumps(value)


def _fail(key: str, value: Any, problem: str) -> ConfigError:
    return ConfigError(f"params.yaml: {key} = {_describe(value)} {problem}")


def _coerce(tp: Any, value: Any, key: str) -> Any:  # noqa: C901 -- one branch per kind of annotation the schemas use
    """Check ``value`` against the annotation ``tp``; return it (lists become tuples)."""
    origin = typing.get_origin(tp)
    if value == "???":
        raise ConfigError(f"params.yaml: {key} is not set (it is '???'); give it a value")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, key)
            except ConfigError as e:
                errors.append(str(e))
        raise errors[0] if len(errors) == 1 else _fail(key, value, "has the wrong type")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise _fail(key, value, "is not one of " + ", ".join(map(str, choices)))
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _fail(key, value, "must be a list")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _fail(key, value, f"must be a list of {len(args)} values")
            return tuple(_coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
        inner = args[0] if args else Any
        return tuple(_coerce(inner, v, f"{key}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        return parse_section(tp, value, key)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(key, value, "must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(key, value, "must be a whole number")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(key, value, "must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _fail(key, value, "must be a string")
        return value
    raise TypeError(f"unsupported annotation {tp!r} for {key}")


def parse_section(cls: type, raw: Any, key: str) -> Any:
    """Validate the mapping ``raw`` (params.yaml section ``key``) into the dataclass ``cls``."""
    if not isinstance(raw, dict):
        raise _fail(key, raw, "must be a mapping of keys")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"params.yaml: {key}.{unknown[0]} is not a known key (known: {', '.join(fields)})"
        )
    values = {}
    for name, f in fields.items():
        full = f"{key}.{name}"
        if name not in raw:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            raise ConfigError(f"params.yaml: {full} is missing")
        value = _coerce(hints[name], raw[name], full)
        check = f.metadata.get("check")
        if check and value is not None:
            ok, problem = _CHECKS[check]
            items = value if isinstance(value, tuple) else (value,)
            if not all(ok(v) for v in items):
                raise _fail(full, raw[name], problem)
        values[name] = value
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(key)
    return obj


def load_section(params: dict[str, Any], name: str, cls: type) -> Any:
    """Validate params[name] into ``cls``; a missing section is named in the error."""
    if name not in params:
        raise ConfigError(f"params.yaml has no `{name}` section: re-compose it with `make params`")
    return parse_section(cls, params[name], name)


# --------------------------------------------------------------------------- schemas
# name lists, spelled once
ModelName = Literal["baseline", "multitask"]
Augmentation = Literal["writeup", "writeup_without_fog", "none"]


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    profile: str
    recipe: Literal["writeup", "code"] = "writeup"
    seed: int = nonneg()
    deterministic: bool = True
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = nonneg(default=0)
    model_free: bool = False  # a model-free audit (make audit): nothing trained or benchmarked, see MODEL_FREE

    @property
    def not_run(self) -> str | None:
        """Why the train, control and benchmark stages do not run (a model-free audit), or None."""
        return MODEL_FREE if self.model_free else None


def skipped(record: dict[str, Any]) -> bool:
    """Whether a stage's record (an evaluation's metrics.json, a run's summary.json) says the stage did not run:
    its split strategy does not apply to the data (``not_applicable``, the split stage's reason) or a model-free
    audit trained nothing (``not_run``: MODEL_FREE)."""
    return bool(record.get("not_applicable") or record.get("not_run"))


# what every skipped stage of a model-free audit says, and the report repeats
MODEL_FREE = ("a model-free audit (run.model_free = true, `make audit`): the index, the splits with their leakage "
              "evidence, the 1-NN probe and the report ran; no model was trained, no shuffled-label control, no benchmark")


@dataclass(frozen=True, kw_only=True)
class EvaluateConfig:
    bootstrap_resamples: int = positive()
    confidence: float = unit()
    seed: int = nonneg()


@dataclass(frozen=True, kw_only=True)
class ProbeConfig:
    thumbnail_size: int = positive()
    permutations: int = positive()
    seed: int = nonneg()


DataSource = Literal["synthetic", "ucf_crime_frames", "ucf_crime_videos"]


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    source: DataSource
    root: str | None
    classes: tuple[str, ...]
    normal_class: str
    image_size: int = positive()
    frame_every: int = positive()
    workers: int = nonneg()

    def validate(self, key: str) -> None:
        if len(set(self.classes)) != len(self.classes) or len(self.classes) < 2:
            raise _fail(f"{key}.classes", list(self.classes), "must name at least two distinct classes")
        if self.normal_class not in self.classes:
            raise _fail(f"{key}.normal_class", self.normal_class, "is not one of data.classes")
        if self.source != "synthetic" and not self.root:
            raise ConfigError(
                f"params.yaml: data.root is not set for data.source = {self.source!r}; "
                f"pass -S data.root=/abs/path/to/the/dataset"
            )

    def require_root(self) -> Path:
        """The dataset folder of a real source; it must exist."""
        root = Path(self.root).expanduser()
        if not root.is_dir():
            raise ConfigError(
                f"params.yaml: data.root = {self.root!r} does not exist or is not a folder; "
                f"point it at the folder holding Train/ and Test/"
            )
        return root


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    seed: int = nonneg()
    anomaly_train_videos: int = positive()
    anomaly_test_videos: int = positive()
    normal_train_videos: int = positive()
    normal_test_videos: int = positive()
    anomaly_frames: tuple[int, int] = positive()
    normal_frames: tuple[int, int] = positive()
    short_videos: int = nonneg()
    short_frames: tuple[int, int] = positive()
    scene_contrast: float = nonneg()
    scene_per_frame: bool = False
    event_strength: float = unit()
    event_size: int = positive()
    noise_std: float = nonneg()
    drift_pixels: int = nonneg()
    brightness_drift: float = unit()
    people: int = nonneg()

    def validate(self, key: str) -> None:
        for name in ("anomaly_frames", "normal_frames", "short_frames"):
            low, high = getattr(self, name)
            if low > high:
                raise _fail(f"{key}.{name}", [low, high], "must be [low, high] with low <= high")


@dataclass(frozen=True, kw_only=True)
class WindowConfig:
    sequence_length: int = positive()
    frame_stride: int = positive()
    future_steps: int = nonneg()
    window_step: int = positive()

    @property
    def span(self) -> int:
        """PNGs a video needs for one window: the window plus its future target."""
        return self.sequence_length * self.frame_stride + self.future_steps


@dataclass(frozen=True, kw_only=True)
class FrameSplitConfig:
    train_fraction: float = fraction()
    seed: int = nonneg()


@dataclass(frozen=True, kw_only=True)
class VideoSplitConfig:
    test_fraction: float = fraction()
    val_fraction: float = fraction()
    seed: int = nonneg()

    def validate(self, key: str) -> None:
        if self.test_fraction + self.val_fraction >= 1:
            raise _fail(f"{key}.val_fraction", self.val_fraction, "plus test_fraction must stay below 1")


@dataclass(frozen=True, kw_only=True)
class OfficialSplitConfig:
    val_fraction: float = fraction()
    seed: int = nonneg()


@dataclass(frozen=True, kw_only=True)
class GapSplitConfig:
    """The time-gap split: inside each Train video, earlier windows train and later ones evaluate."""

    frames: int = nonneg()  # PNGs between a video's last training frame and its first evaluation frame
    train_fraction: float = fraction()  # the cut: this share of each video's windows lies before it
    curve: tuple[int, ...] = nonneg()  # gaps (PNGs) the probe stage scores for the gap curve

    def validate(self, key: str) -> None:
        if not self.curve or len(set(self.curve)) != len(self.curve):
            raise _fail(f"{key}.curve", list(self.curve), "must list distinct gaps")


SplitStrategy = Literal["frame", "video", "official", "gap"]


@dataclass(frozen=True, kw_only=True)
class SplitsConfig:
    frame: FrameSplitConfig
    video: VideoSplitConfig
    official: OfficialSplitConfig
    gap: GapSplitConfig


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """Which stages exist: only dvc.yaml's templating reads these (validated by the prepare stage)."""

    strategies: tuple[SplitStrategy, ...]
    models: tuple[ModelName, ...]
    control_model: ModelName
    control_strategies: tuple[SplitStrategy, ...]

    def validate(self, key: str) -> None:
        for name in ("strategies", "models", "control_strategies"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise _fail(f"{key}.{name}", list(values), "must list distinct names")
        missing = sorted(set(self.control_strategies) - set(self.strategies))
        if missing:
            raise _fail(f"{key}.control_strategies", list(self.control_strategies),
                        f"names {', '.join(missing)}, which {key}.strategies does not split")


@dataclass(frozen=True, kw_only=True)
class LeakageConfig:
    hamming_radius: int = nonneg()
    shared_frame_thresholds: tuple[int, ...] = positive()
    curve_max_radius: int = nonneg()  # the rate and chance curves run over radius 0..this
    curve_sample_frames: int = positive()  # above hamming_radius the curves are measured on this many frames at most
    bootstrap_resamples: int = positive()  # for the excess over chance, resampling evaluation videos
    confidence: float = fraction()
    seed: int = nonneg()
    duplicate_examples: int = nonneg()  # exact-duplicate groups listed in leakage.json
    gallery_pairs: int = nonneg()  # closest evaluation/training pairs the split stage draws for the report

    def validate(self, key: str) -> None:
        for name in ("hamming_radius", "curve_max_radius"):
            if getattr(self, name) > 16:
                raise _fail(f"{key}.{name}", getattr(self, name), "must be at most 16 bits")


# --------------------------------------------------------------------------- schemas of the training, model, loss, benchmark and sweep sections


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = positive()
    batch_size: int = positive()
    accumulation_steps: int = positive()
    samples_per_epoch: int | None = positive()
    max_lr: float = positive()
    pct_start: float = fraction()
    div_factor: float = positive()
    final_div_factor: float = positive()
    schedule_unit: Literal["optimizer_steps", "batches"] = "optimizer_steps"  # what OneCycle's length counts
    weight_decay: float = nonneg()
    grad_clip: float = positive()
    precision: Literal["amp", "fp32"]
    channels_last: bool
    input_size: int | None = positive()
    augment: Augmentation
    augment_per_frame: bool = False  # a draw per frame (its code) instead of one per clip
    validation_augment: bool = False  # validation (and the frame split's test) through the training transform
    cache_frames: bool
    sampler: Literal["sqrt_inverse_frequency", "inverse_frequency", "uniform"] = "sqrt_inverse_frequency"
    early_stopping_patience: int = positive()
    monitor: Literal["macro_f1", "weighted_f1"] = "weighted_f1"
    unfreeze_after_epochs: int = nonneg()
    checkpoint_every: int = positive()
    num_workers: int = nonneg()
    pin_memory: bool
    prefetch_factor: int = positive()
    persistent_workers: bool
    eval_batch_size: int = positive()
    nproc_per_node: int = positive(default=1)
    dist_backend: Literal["auto", "gloo", "nccl"] = "auto"

    # settings that change how fast a run goes, not what it learns: a checkpoint written under other values of
    # these is resumed (the fingerprint leaves them out), so changing them re-scores a run without retraining it
    RUNTIME_ONLY: ClassVar[tuple[str, ...]] = ("num_workers", "pin_memory", "prefetch_factor", "persistent_workers",
                                               "eval_batch_size", "cache_frames")

    def result_settings(self) -> dict[str, Any]:
        """The settings that decide what a run learns (everything but RUNTIME_ONLY)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.RUNTIME_ONLY}


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    workloads: tuple[Literal["precision", "loader", "amp_x_loader", "augment", "compile", "flops"], ...]
    batch_size: int = positive()
    warmup_steps: int = positive()
    timed_steps: int = positive()
    repeats: int = positive()
    noisy_iqr_fraction: float = unit()
    interval_resamples: int = positive()
    loader_workers: int = positive()
    loader_batches: int = positive()
    loader_prefetch_factor: int = positive()
    augment: Augmentation
    augment_sizes: tuple[int, ...]
    augment_images: int = positive()
    compile_model: ModelName
    compile_modes: tuple[Literal["default", "reduce-overhead", "max-autotune"], ...]
    seed: int = nonneg()

    def __post_init__(self) -> None:
        from harness.errors import ConfigError

        if self.repeats < 5:
            raise ConfigError(f"params.yaml: bench.repeats = {self.repeats} is too few; interleave at least 5 rounds")

@dataclass(frozen=True, kw_only=True)
class LossWeights:
    regression: float = nonneg()
    classification: float = nonneg()
    mil: float = nonneg()
    vae: float = nonneg()

@dataclass(frozen=True, kw_only=True)
class LossConfig:
    focal_gamma: float = nonneg()
    focal_alpha: Literal["sqrt_inverse_frequency", "none"]
    mil_margin: float = nonneg()
    mil_mode: Literal["batch_mean", "video_bags"]
    mil_source: Literal["mil_head", "classifier"] = "mil_head"
    mil_smoothness: float = nonneg()
    mil_sparsity: float = nonneg()
    vae_beta: float = nonneg()
    weights: LossWeights

@dataclass(frozen=True, kw_only=True)
class BaselineConfig:
    channels: tuple[int, ...] = positive()
    norm: Literal["group", "none"]

@dataclass(frozen=True, kw_only=True)
class MultiTaskConfig:
    backbone: str
    pretrained_weights: str | None
    feature_dropout: float = unit()  # on each frame's pooled backbone features (write-up 4.1c)
    embed_dim: int = positive()
    lstm_hidden: int = positive()
    lstm_layers: int = positive()
    lstm_dropout: float = unit()
    lstm_norm: bool = True  # LayerNorm after the BiLSTM (the prose; its code has none)
    transformer_layers: int = positive()
    transformer_heads: int = positive()
    transformer_ff: int = positive()
    transformer_dropout: float = unit()
    max_relative_position: int = positive()
    relative_positions: bool = True  # add the relative position bias (its code builds it and never applies it)
    regression_hidden: tuple[int, ...] = positive()
    regression_dim: int = positive()
    regression_dropout: float = unit()
    classifier_hidden: tuple[int, ...] = positive()
    classifier_dropout: float = unit()
    vae_latent: int = positive()
    vae_hidden: tuple[int, ...] = nonneg()

    def validate(self, key: str) -> None:
        if (2 * self.lstm_hidden) % self.transformer_heads:
            raise ConfigError(
                f"params.yaml: {key}.transformer_heads = {self.transformer_heads} must divide the BiLSTM output "
                f"size 2 x lstm_hidden = {2 * self.lstm_hidden}"
            )
        import timm  # only when a model section is validated: reading the other sections needs no torch

        if self.backbone not in timm.list_models():
            raise ConfigError(f"params.yaml: {key}.backbone = {self.backbone!r} is not a timm model name")
        if self.pretrained_weights and not Path(self.pretrained_weights).is_file():
            raise ConfigError(f"params.yaml: {key}.pretrained_weights = {self.pretrained_weights!r} is not a file")

@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    name: str
    model: ModelName | Literal["control"]  # control: pipeline.control_model retrained on labels shuffled across videos
    split: SplitStrategy
    data_dir: str
    results_dir: str
    lock_timeout_minutes: float = positive()

    def validate(self, key: str) -> None:
        if not self.name or "/" in self.name or self.name.startswith(("_", ".")) or self.name == "results":
            raise ConfigError(f"params.yaml: {key}.name = {self.name!r} must be a plain folder name other "
                              f"than 'results'")

def main(argv: list[str] | None = None) -> None:
    """``python -m harness.config [overrides...]``: write the composed params (default: params.yaml)."""
    import argparse

    parser = argparse.ArgumentParser(description="Compose the Hydra config into params.yaml.")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. profile=smoke data.workers=2")
    parser.add_argument("--output", default=PARAMS_FILE, help="file to write ('-' for stdout)")
    args = parser.parse_args(argv)
    text = compose_params(args.overrides)
    if args.output == "-":
        print(text, end="")
    else:
        Path(args.output).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
