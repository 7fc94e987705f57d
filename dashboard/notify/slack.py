"""Slack: a message posted to an incoming webhook (https://api.slack.com/messaging/webhooks)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from dashboard.notify import DeliveryError

SLACK_TIMEOUT_SECONDS = 15.0


def checked_webhook(url: str) -> str:
    """The webhook's address when it is an http(s) URL; DeliveryError otherwise (before anything is made)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(
            f'The Slack webhook must be an https:// address (Slack\'s "Incoming Webhooks" gives one), not “{url[:40]}”.'
        )
    return url.strip()


def escaped(text: str) -> str:
    """text with the three characters Slack's markup reserves escaped (a campaign named "Q&A <live>")."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A link in Slack's markup."""
    return f"<{url}|{escaped(label)}>"


def post(webhook: str, text: str, *, timeout: float = SLACK_TIMEOUT_SECONDS) -> None:
    """Post text (Slack markup) to the webhook; DeliveryError with a sentence when it is not accepted.

    The sentence names only the webhook's host: the rest of its address is its secret.
    """
    url = checked_webhook(webhook)
    host = urlsplit(url).netloc
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": text}).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        said = " ".join(exc.read(200).decode("utf-8", "replace").split()) or exc.reason
        raise DeliveryError(
            f"The Slack webhook at {host} answered HTTP {exc.code} ({said}): check the webhook's address, and that "
            "its app and channel still exist."
        ) from exc
    except TimeoutError as exc:
        raise DeliveryError(f"The Slack webhook at {host} did not answer within {timeout:g} seconds.") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise DeliveryError(f"The Slack webhook at {host} did not answer within {timeout:g} seconds.") from exc
        if isinstance(reason, socket.gaierror):
            raise DeliveryError(f"The Slack webhook's host {host} could not be resolved: check its address.") from exc
        if isinstance(reason, ConnectionRefusedError):
            raise DeliveryError(f"Nothing accepts connections at the Slack webhook's host {host}.") from exc
        raise DeliveryError(f"The Slack webhook at {host} could not be reached ({reason}).") from exc
    except OSError as exc:  # a connection reset half-way, a TLS failure after the request
        raise DeliveryError(f"The Slack webhook at {host} could not be reached ({exc}).") from exc
