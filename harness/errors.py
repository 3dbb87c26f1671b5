"""The one exception type that means "the user must fix something" (a value, a file, a folder).

Stages catch it at the top and print its message as one sentence, without a traceback.
Everything else is a bug in the harness and keeps its traceback.
"""


class HarnessError(Exception):
    """A problem with the user's configuration or data, explained in one sentence."""


class ConfigError(HarnessError):
    """A params.yaml value that fails validation; the message names the key and the value."""
