"""Delivery: mail through an SMTP server and posts to a Slack incoming webhook, with their settings (settings, mail,
slack). Every failure is a DeliveryError whose message is one sentence saying what went wrong and what to check."""


class DeliveryError(RuntimeError):
    """A message could not be sent, or the settings to send it are wrong; the message says why."""
