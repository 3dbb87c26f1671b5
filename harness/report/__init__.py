"""The report: renders what the stages wrote (render, figures, the verdict block, the README's generated block, the
gpu-check results reader, templates). Imports the judging of the write-up; never a model, the training loop, the
benchmark or scoring code.
"""
