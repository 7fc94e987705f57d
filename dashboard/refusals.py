"""The error every write raises when it will not act: its message is a sentence for a person."""


class Refused(ValueError):
    """A write that was not made; the message says why and what to do."""
