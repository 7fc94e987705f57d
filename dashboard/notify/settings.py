"""The delivery settings: the SMTP server and the app's address, each from the environment or, when the environment
does not set it, from Streamlit's secrets (.streamlit/secrets.toml, [smtp] and [app])."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.notify import DeliveryError

SMTP_TIMEOUT_SECONDS = 30.0
DEFAULT_PORT = 587  # the submission port, where STARTTLS is the rule
SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Setting:
    """One setting: its key in its secrets section and the environment variable that overrides it."""

    section: str
    key: str
    env: str

    @property
    def names(self) -> str:
        """How a sentence names it: both places it can be set."""
        return f"{self.env} (or {self.key} in [{self.section}] of .streamlit/secrets.toml)"


# Every delivery setting, in the order the README documents them.
HOST = Setting("smtp", "host", "HANDOFF_SMTP_HOST")
PORT = Setting("smtp", "port", "HANDOFF_SMTP_PORT")
STARTTLS = Setting("smtp", "starttls", "HANDOFF_SMTP_STARTTLS")
USER = Setting("smtp", "user", "HANDOFF_SMTP_USER")
PASSWORD = Setting("smtp", "password", "HANDOFF_SMTP_PASSWORD")
SENDER = Setting("smtp", "from", "HANDOFF_SMTP_FROM")
APP_URL = Setting("app", "url", "HANDOFF_APP_URL")
SETTINGS = (HOST, PORT, STARTTLS, USER, PASSWORD, SENDER, APP_URL)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = DEFAULT_PORT
    starttls: bool = True
    user: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""
    timeout: float = SMTP_TIMEOUT_SECONDS

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def streamlit_secrets() -> Mapping[str, Mapping]:
    """The app's secrets (the files Streamlit reads: .streamlit/secrets.toml in the working folder and the home
    folder); empty when there is no such file."""
    import streamlit as st
    from streamlit import config

    if not any(Path(path).exists() for path in config.get_option("secrets.files")):
        return {}
    try:
        return st.secrets.to_dict()
    except FileNotFoundError as exc:  # Streamlit's own error for a file it cannot parse
        raise DeliveryError(f"The secrets file could not be read: {str(exc).splitlines()[0]}") from exc


class Sources:
    """Where settings are read: the environment first, then the secrets."""

    def __init__(self, environ: Mapping[str, str] | None = None, secrets: Mapping[str, Mapping] | None = None):
        self.environ = os.environ if environ is None else environ
        self._secrets = secrets

    @property
    def secrets(self) -> Mapping[str, Mapping]:
        if self._secrets is None:
            self._secrets = streamlit_secrets()
        return self._secrets

    def get(self, setting: Setting) -> str:
        """The setting's value as text, "" when neither place sets it."""
        if (value := self.environ.get(setting.env, "").strip()) != "":
            return value
        section = self.secrets.get(setting.section) or {}
        value = section.get(setting.key) if isinstance(section, Mapping) else None
        if isinstance(value, bool):
            return "on" if value else "off"
        return "" if value is None else str(value).strip()


def smtp_settings(sources: Sources | None = None) -> SmtpSettings:
    """The SMTP server to send through; DeliveryError with a sentence when a setting is missing or malformed."""
    sources = sources or Sources()
    host = sources.get(HOST)
    if not host:
        raise DeliveryError(f"No mail server is set: set {HOST.names}.")
    port_text = sources.get(PORT) or str(DEFAULT_PORT)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DeliveryError(
            f"The mail server's port must be a number from 1 to 65535, not “{port_text}”: check {PORT.names}."
        )
    starttls_text = (sources.get(STARTTLS) or "on").lower()
    if starttls_text not in SWITCH:
        raise DeliveryError(f"STARTTLS must be on or off, not “{starttls_text}”: check {STARTTLS.names}.")
    user, password = sources.get(USER), sources.get(PASSWORD)
    if user and not password:
        raise DeliveryError(f"A user name is set for the mail server but no password: set {PASSWORD.names}.")
    if password and not user:
        raise DeliveryError(f"A password is set for the mail server but no user name: set {USER.names}.")
    sender = sources.get(SENDER) or (user if "@" in user else "")
    if not sender:
        raise DeliveryError(f"No sender address is set: set {SENDER.names}.")
    return SmtpSettings(
        host=host, port=int(port_text), starttls=SWITCH[starttls_text], user=user, password=password, sender=sender
    )


def app_url(option: str | None = None, sources: Sources | None = None) -> str | None:
    """The app's address for links (the command's option, else the setting), without a trailing slash."""
    url = (option or "").strip() or (sources or Sources()).get(APP_URL)
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"The app's address must start with http:// or https://, not “{url}”: check {APP_URL.env}.")
    return url.rstrip("/")
