"""Delivery: mail through an SMTP server and posts to a Slack incoming webhook, with their settings (settings, mail,
slack). Every failure is a DeliveryError whose message is one sentence saying what went wrong and what to check."""


class DeliveryError(RuntimeError):
    """A message could not be sent, or the settings to send it are wrong; the message says why."""


def as_clause(exc: BaseException) -> str:
    """The error's sentence to follow a colon: its first letter in lower case, unless it starts an acronym."""
    text = str(exc)
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text
