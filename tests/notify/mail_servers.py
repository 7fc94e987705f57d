"""Real servers for the delivery tests: an SMTP server (aiosmtpd) on 127.0.0.1 and a free port, optionally with
STARTTLS (a self-signed certificate the client is told to trust) and a required log-in; and a port nothing listens
on."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """What the server accepted; recipients in refuse are refused with a 550."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class SmtpServer:
    port: int
    inbox: Inbox

    def env(self, **more: str) -> dict[str, str]:
        """The HANDOFF_SMTP_* settings that send through this server (plain, no log-in) with more on top."""
        base = {"HANDOFF_SMTP_HOST": HOST, "HANDOFF_SMTP_PORT": str(self.port), "HANDOFF_SMTP_STARTTLS": "off"}
        return base | {f"HANDOFF_SMTP_{k.upper()}": v for k, v in more.items()}


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "handoff test mail server")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@contextmanager
def smtp_server(
    *, users: dict[str, str] | None = None, tls: tuple[Path, Path] | None = None, refuse: set[str] = frozenset()
) -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1; with users, a log-in is required (checked against them); with tls (certificate,
    key), it offers STARTTLS and requires it before a log-in."""
    inbox = Inbox(refuse=set(refuse))
    options: dict = {}
    if users is not None:

        def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and users.get(auth_data.login.decode()) == (
                auth_data.password.decode()
            )
            return AuthResult(success=ok, handled=False)

        options |= {"auth_required": True, "auth_require_tls": tls is not None, "authenticator": authenticate}
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*map(str, tls))
        options |= {"tls_context": context}
    port = free_port()
    controller = Controller(inbox, hostname=HOST, port=port, **options)
    controller.start()
    try:
        yield SmtpServer(port, inbox)
    finally:
        controller.stop()
