"""Mail: messages with a plain-text and an HTML body, sent through one connection to the SMTP server."""

from __future__ import annotations

import base64
import re
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid

from dashboard.notify import DeliveryError
from dashboard.notify.settings import HOST, PASSWORD, PORT, SENDER, STARTTLS, USER, SmtpSettings

# An image inside the HTML as a data: URI. Many mail clients (Gmail, Outlook) show none, so each becomes a part of
# the message that the HTML names by its Content-ID.
DATA_IMAGE = re.compile(r'src="data:image/(png|jpeg|gif);base64,([A-Za-z0-9+/=\s]+)"')


def addresses(text: str) -> tuple[str, ...]:
    """The addresses of a comma-separated list ("a@x, Bea <b@y>"); DeliveryError naming the first malformed one."""
    found = []
    for part in (p.strip() for p in text.split(",")):
        parsed = getaddresses([part]) if part else []
        address = parsed[0][1] if len(parsed) == 1 else ""
        local, at, domain = address.rpartition("@")
        if not (at and local and domain) or any(c.isspace() for c in address):
            raise DeliveryError(f"“{part}” is not an e-mail address: write them as a@example.com,b@example.com.")
        found.append(part)
    return tuple(found)


def message(*, sender: str, to: Sequence[str], subject: str, text: str, html: str | None = None) -> EmailMessage:
    """One message: the plain text, and the HTML as its richer alternative with its images as related parts."""
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = subject, sender, ", ".join(to)
    mail.set_content(text)
    if html is None:
        return mail
    images: list[tuple[str, str, bytes]] = []

    def as_part(match: re.Match) -> str:
        cid = make_msgid(domain="handoff")
        images.append((cid, match[1], base64.b64decode(match[2])))
        return f'src="cid:{cid[1:-1]}"'

    mail.add_alternative(DATA_IMAGE.sub(as_part, html), subtype="html")
    body = mail.get_payload()[-1]
    for cid, subtype, data in images:
        body.add_related(data, maintype="image", subtype=subtype, cid=cid)
    return mail


def _sentence(exc: BaseException, smtp: SmtpSettings) -> str:
    """Why the send failed, and what to check, in one sentence."""
    where = smtp.where
    match exc:
        case smtplib.SMTPAuthenticationError():
            return (
                f"The mail server at {where} refused the user name and password for {smtp.user} ({_answer(exc)}): "
                f"check {USER.env} and {PASSWORD.env}."
            )
        case smtplib.SMTPNotSupportedError() if "STARTTLS" in str(exc).upper():
            return (
                f"The mail server at {where} does not offer STARTTLS: use its STARTTLS port (usually 587), or set "
                f"{STARTTLS.env}=off for a relay on a trusted network."
            )
        case smtplib.SMTPNotSupportedError():
            return (
                f"The mail server at {where} does not accept a log-in: leave {USER.env} and {PASSWORD.env} empty, "
                f"or turn {STARTTLS.env} on (many servers offer a log-in only after STARTTLS)."
            )
        case smtplib.SMTPResponseException(smtp_code=530):
            return f"The mail server at {where} requires a log-in ({_answer(exc)}): set {USER.env} and {PASSWORD.env}."
        case smtplib.SMTPSenderRefused():
            return f"The mail server at {where} refused the sender {exc.sender} ({_answer(exc)}): check {SENDER.env}."
        case smtplib.SMTPRecipientsRefused():
            refused = "; ".join(f"{to}: {_answer(code, text)}" for to, (code, text) in exc.recipients.items())
            return f"The mail server at {where} refused every recipient ({refused})."
        case smtplib.SMTPServerDisconnected():
            return (
                f"The mail server at {where} closed the connection ({_first_line(exc)}): check {PORT.env} "
                "(an SMTP port, with STARTTLS: implicit TLS on port 465 is not supported)."
            )
        case smtplib.SMTPResponseException():
            return f"The mail server at {where} answered {_answer(exc)}."
        case ssl.SSLError() | ssl.CertificateError():
            return f"The secure connection to the mail server at {where} failed ({_first_line(exc)}): check {HOST.env}."
        case socket.gaierror():
            return f"The mail server's name “{smtp.host}” could not be resolved: check {HOST.env}."
        case TimeoutError():
            return (
                f"The mail server at {where} did not answer within {smtp.timeout:g} seconds: check {HOST.env}, "
                f"{PORT.env} and the firewall."
            )
        case ConnectionRefusedError():
            return f"Nothing accepts connections at {where}: check {HOST.env} and {PORT.env}."
        case _:
            return (
                f"The mail server at {where} could not be reached ({_first_line(exc)}): check {HOST.env} and "
                f"{PORT.env}."
            )


def _answer(exc_or_code, text: bytes | str | None = None) -> str:
    """An SMTP answer as "535 authentication failed"."""
    if isinstance(exc_or_code, smtplib.SMTPResponseException):
        exc_or_code, text = exc_or_code.smtp_code, exc_or_code.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{exc_or_code} {' '.join((text or '').split())}".strip()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def send(messages: Sequence[EmailMessage], smtp: SmtpSettings) -> None:
    """Send every message through one connection; DeliveryError with a sentence (and how many went before) when the
    server cannot be reached, refuses the log-in, a sender or every recipient, or refuses any recipient at all."""
    sent = 0
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
            server.ehlo()
            if smtp.starttls:
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            if smtp.user:
                server.login(smtp.user, smtp.password)
            for mail in messages:
                refused = server.send_message(mail)
                if refused:  # some recipients refused, the others accepted: the message went only part of the way
                    names = "; ".join(f"{to}: {_answer(code, text)}" for to, (code, text) in refused.items())
                    raise DeliveryError(
                        f"The mail server at {smtp.where} refused {names}; “{mail['Subject']}” went to the others."
                    )
                sent += 1
    except DeliveryError:
        raise
    except (smtplib.SMTPException, OSError) as exc:
        before = f" ({sent} of {len(messages)} messages were sent before)" if sent else ""
        raise DeliveryError(_sentence(exc, smtp).removesuffix(".") + before + ".") from exc
