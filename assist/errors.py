"""One exception class per stage; the CLI turns any of them into a one-line error and exit 2.

Messages are for the person at the keyboard: say what went wrong and what to do about it.
"""


class AssistError(Exception):
    """Base of every error the user can act on."""


class ConfigError(AssistError):
    pass


class AudioError(AssistError):
    pass


class ModelError(AssistError):
    pass


class PackError(AssistError):
    pass


class StoreError(AssistError):
    pass
