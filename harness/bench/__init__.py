"""Throughput benchmarks for the write-up's speed claims, and the timing primitives under them.

Method (design.md, honesty rules): every arm of a comparison does the same work at the same batch and
layout; each arm is warmed up first (compilation, allocator, worker start-up excluded and, for
torch.compile, reported separately); on a GPU the device is synchronised before every clock read; the
arms are interleaved over ``repeats`` rounds (arm order rotates each round) so that drift in the
machine hits all arms alike; each record reports the median and IQR of the per-round rates, and is
marked noisy when IQR / median exceeds the configured bound. A claim's ratio is the ratio of medians,
with a 95% interval from resampling the rounds (paired: one round's arms ran back to back).

Each workload returns flat records (one per arm, like timm's benchmark.py) and ratios. A workload that
needs hardware this run does not have is recorded as not testable, with the nearest stand-in beside it.

The benchmarks time training's own step and loader (harness.train, harness.runtime); they judge nothing and render
nothing (no harness.judge, harness.report or harness.leakage), except that gpu-check writes its results in the
format the report reads (harness.report.gpu_results).
"""
