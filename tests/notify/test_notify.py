"""Delivery: the settings and their precedence, messages, and sending through a real SMTP server and a local webhook,
each failure said in one sentence."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import pytest
from werkzeug import Response

from dashboard.notify import DeliveryError, mail, slack
from dashboard.notify.settings import SmtpSettings, Sources, app_url, smtp_settings
from tests.notify.mail_servers import HOST, free_port, self_signed, smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

# ------------------------------------------------------------------------------------------------ settings

FULL = {
    "HANDOFF_SMTP_HOST": "smtp.example.com",
    "HANDOFF_SMTP_PORT": "2525",
    "HANDOFF_SMTP_STARTTLS": "off",
    "HANDOFF_SMTP_USER": "bot@example.com",
    "HANDOFF_SMTP_PASSWORD": "pw",
    "HANDOFF_SMTP_FROM": "Handoff <handoff@example.com>",
}
SECRETS = {"smtp": {"host": "secret.example.com", "port": 465, "starttls": True, "user": "s", "password": "spw"}}


@pytest.mark.parametrize(
    ("environ", "secrets", "expected"),
    [
        (FULL, {}, SmtpSettings("smtp.example.com", 2525, False, "bot@example.com", "pw", FULL["HANDOFF_SMTP_FROM"])),
        # the secrets alone; without a sender the user name is the sender when it is an address, here it is not
        (
            {"HANDOFF_SMTP_FROM": "h@x.org"},
            SECRETS,
            SmtpSettings("secret.example.com", 465, True, "s", "spw", "h@x.org"),
        ),
        # the environment wins, setting by setting
        (
            {"HANDOFF_SMTP_HOST": "env.example.com", "HANDOFF_SMTP_STARTTLS": "no", "HANDOFF_SMTP_FROM": "h@x.org"},
            SECRETS,
            SmtpSettings("env.example.com", 465, False, "s", "spw", "h@x.org"),
        ),
        # defaults: port 587 with STARTTLS, no log-in; the user is the sender
        (
            {"HANDOFF_SMTP_HOST": "h", "HANDOFF_SMTP_USER": "me@x.org", "HANDOFF_SMTP_PASSWORD": "p"},
            {},
            SmtpSettings("h", 587, True, "me@x.org", "p", "me@x.org"),
        ),
        (
            {"HANDOFF_SMTP_HOST": "h"},
            {"smtp": {"from": "a@b.c", "starttls": False}},
            SmtpSettings("h", 587, False, "", "", "a@b.c"),
        ),
    ],
)
def test_smtp_settings_from_the_environment_then_the_secrets(environ, secrets, expected):
    assert smtp_settings(Sources(environ, secrets)) == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "No mail server is set: set HANDOFF_SMTP_HOST (or host in [smtp] of .streamlit/secrets.toml)."),
        (FULL | {"HANDOFF_SMTP_PORT": "smtp"}, "port must be a number from 1 to 65535, not “smtp”"),
        (FULL | {"HANDOFF_SMTP_PORT": "70000"}, "not “70000”"),
        (FULL | {"HANDOFF_SMTP_STARTTLS": "maybe"}, "STARTTLS must be on or off, not “maybe”"),
        (FULL | {"HANDOFF_SMTP_PASSWORD": ""}, "no password: set HANDOFF_SMTP_PASSWORD"),
        (FULL | {"HANDOFF_SMTP_USER": ""}, "no user name: set HANDOFF_SMTP_USER"),
        ({"HANDOFF_SMTP_HOST": "h"}, "No sender address is set: set HANDOFF_SMTP_FROM"),
    ],
)
def test_a_missing_or_malformed_smtp_setting_is_said(environ, message):
    with pytest.raises(DeliveryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        smtp_settings(Sources(environ, {}))


@pytest.mark.parametrize(
    ("option", "environ", "secrets", "expected"),
    [
        (None, {}, {}, None),
        (None, {}, {"app": {"url": "https://secret.example.com/"}}, "https://secret.example.com"),
        (
            None,
            {"HANDOFF_APP_URL": "https://env.example.com"},
            {"app": {"url": "https://s"}},
            "https://env.example.com",
        ),
        ("http://127.0.0.1:8501/", {"HANDOFF_APP_URL": "https://env.example.com"}, {}, "http://127.0.0.1:8501"),
    ],
)
def test_the_apps_address_from_the_option_then_the_environment_then_the_secrets(option, environ, secrets, expected):
    assert app_url(option, Sources(environ, secrets)) == expected


def test_an_apps_address_that_is_not_http_is_refused():
    with pytest.raises(DeliveryError, match="must start with http:// or https://"):
        app_url("handoff.example.com", Sources({}, {}))


def test_the_secrets_file_is_read_when_there_is_one(tmp_path, monkeypatch):
    from streamlit import config

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        '[smtp]\nhost = "from-file.example.com"\nfrom = "h@x.org"\n[app]\nurl = "https://f.example.com"\n'
    )
    monkeypatch.setattr(config, "get_option", lambda name: [str(secrets)] if name == "secrets.files" else None)
    import streamlit as st

    monkeypatch.setattr(st.secrets, "_secrets", None)  # parse this file, not one read earlier in the process
    assert smtp_settings(Sources({})).host == "from-file.example.com"
    assert app_url(None, Sources({})) == "https://f.example.com"
    monkeypatch.setattr(config, "get_option", lambda name: [str(tmp_path / "none.toml")])
    assert Sources({}).secrets == {}


# ------------------------------------------------------------------------------------------------ messages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@x.org", ("a@x.org",)),
        ("a@x.org, b@y.org", ("a@x.org", "b@y.org")),
        ("Bea <b@y.org>,c@z.org", ("Bea <b@y.org>", "c@z.org")),
    ],
)
def test_a_list_of_addresses(text, expected):
    assert mail.addresses(text) == expected


@pytest.mark.parametrize("text", ["", "a@x.org,,b@y.org", "bob", "a@x.org,b y@z.org", "@x.org"])
def test_a_malformed_address_is_refused(text):
    with pytest.raises(DeliveryError, match="is not an e-mail address"):
        mail.addresses(text)


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_a_message_has_the_text_the_html_and_its_images_as_parts():
    html = f'<html><body><p>Hi</p><img alt="chart" src="data:image/png;base64,{base64.b64encode(PNG).decode()}"></body>'
    message = mail.message(sender="h@x.org", to=["a@x.org", "b@y.org"], subject="S", text="Hi", html=html)
    assert message["To"] == "a@x.org, b@y.org"
    assert message.get_body(("plain",)).get_content().strip() == "Hi"
    body = message.get_body(("html",)).get_content()
    assert "data:image" not in body
    (image,) = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert image.get_content() == PNG
    assert f'src="cid:{image["Content-ID"].strip("<>")}"' in body


# ------------------------------------------------------------------------------------------------ SMTP


def _settings(port: int, **more) -> SmtpSettings:
    return SmtpSettings(HOST, port, **({"starttls": False, "sender": "Handoff <h@x.org>"} | more))


def _one(to=("a@x.org",), subject="Weekly review") -> list:
    return [mail.message(sender="Handoff <h@x.org>", to=list(to), subject=subject, text="Hi", html="<p>Hi</p>")]


def test_mail_arrives_through_a_real_smtp_server():
    with smtp_server() as server:
        mail.send(_one(("a@x.org", "b@y.org")), _settings(server.port))
    (got,) = server.inbox.received
    assert got.sender == "h@x.org" and got.recipients == ["a@x.org", "b@y.org"]
    assert got.message["Subject"] == "Weekly review"
    assert got.message.get_body(("html",)).get_content().strip() == "<p>Hi</p>"


def test_mail_goes_over_starttls_with_a_log_in(tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's certificate, and only it
    with smtp_server(users={"bot": "s3cret"}, tls=(cert, key)) as server:
        mail.send(_one(), _settings(server.port, starttls=True, user="bot", password="s3cret"))
    assert [r.recipients for r in server.inbox.received] == [["a@x.org"]]


def _closing_port(stop: threading.Event) -> int:
    """A port whose listener closes every connection at once (not an SMTP server)."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(0.2)

    def serve():
        with listener:
            while not stop.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                connection.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


@pytest.mark.parametrize(
    ("server", "settings", "message"),
    [
        ("none", {}, "Nothing accepts connections at 127.0.0.1:{port}: check HANDOFF_SMTP_HOST and HANDOFF_SMTP_PORT."),
        (
            "auth",
            {"user": "bot", "password": "wrong"},
            "The mail server at 127.0.0.1:{port} refused the user name and password for bot (535 5.7.8 "
            "Authentication credentials invalid): check HANDOFF_SMTP_USER and HANDOFF_SMTP_PASSWORD.",
        ),
        (
            "auth",
            {},
            "The mail server at 127.0.0.1:{port} requires a log-in (530 5.7.0 Authentication required): set "
            "HANDOFF_SMTP_USER and HANDOFF_SMTP_PASSWORD.",
        ),
        (
            "plain",
            {"starttls": True},
            "The mail server at 127.0.0.1:{port} does not offer STARTTLS: use its STARTTLS port (usually 587), or "
            "set HANDOFF_SMTP_STARTTLS=off for a relay on a trusted network.",
        ),
        ("plain", {"user": "bot", "password": "pw"}, "does not accept a log-in: leave HANDOFF_SMTP_USER"),
        ("closing", {}, "closed the connection (Connection unexpectedly closed): check HANDOFF_SMTP_PORT"),
        ("refusing", {}, "refused every recipient (a@x.org: 550 5.1.1 No such user here)."),
    ],
)
def test_a_failed_send_says_why_in_one_sentence(server, settings, message):
    stop = threading.Event()
    if server == "none":
        port, context = free_port(), None
    elif server == "closing":
        port, context = _closing_port(stop), None
    else:
        options = {"auth": {"users": {"bot": "s3cret"}}, "refusing": {"refuse": {"a@x.org"}}}.get(server, {})
        context = smtp_server(**options)
        port = context.__enter__().port
    try:
        with pytest.raises(DeliveryError) as raised:
            mail.send(_one(), _settings(port, **settings))
    finally:
        stop.set()
        if context is not None:
            context.__exit__(None, None, None)
    said = str(raised.value)
    assert message.format(port=port) in said
    assert said.count(". ") == 0 and said.endswith(".") and "\n" not in said


def test_a_recipient_refused_among_others_is_a_failure_that_names_it():
    with smtp_server(refuse={"b@y.org"}) as server:
        with pytest.raises(DeliveryError, match=r"refused b@y.org: 550 5.1.1 No such user here; “Weekly review” went"):
            mail.send(_one(("a@x.org", "b@y.org")), _settings(server.port))
    assert [r.recipients for r in server.inbox.received] == [["a@x.org"]]


def test_a_failure_after_some_messages_says_how_many_went():
    with smtp_server(refuse={"c@z.org"}) as server:
        messages = _one(("a@x.org",), "one") + _one(("b@y.org",), "two") + _one(("c@z.org",), "three")
        with pytest.raises(DeliveryError, match=r"refused every recipient .*\(2 of 3 messages were sent before\)\.$"):
            mail.send(messages, _settings(server.port))
    assert len(server.inbox.received) == 2


# ------------------------------------------------------------------------------------------------ Slack


def test_a_post_reaches_the_webhook_as_json(httpserver):
    httpserver.clear_log()  # the server is shared by the session: only this test's requests
    httpserver.expect_oneshot_request("/services/T/B/secret", method="POST").respond_with_data("ok")
    slack.post(httpserver.url_for("/services/T/B/secret"), "*MQLs* 12 <https://x|link>")
    (request, _), *_ = httpserver.log
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.data) == {"text": "*MQLs* 12 <https://x|link>"}


def _slow(request):
    time.sleep(1.5)
    return Response("ok")


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        (lambda h: h.respond_with_data("rollup_error", status=500), "answered HTTP 500 (rollup_error): check the"),
        (lambda h: h.respond_with_data("no_service", status=404), "answered HTTP 404 (no_service)"),
        (lambda h: h.respond_with_handler(_slow), "did not answer within 0.5 seconds."),
    ],
)
def test_a_webhook_that_fails_says_why_without_its_secret(httpserver, respond, message):
    httpserver.clear_log()  # the server is shared by the session: only this test's requests
    respond(httpserver.expect_request("/services/T/B/secret"))
    with pytest.raises(DeliveryError) as raised:
        slack.post(httpserver.url_for("/services/T/B/secret"), "hi", timeout=0.5)
    said = str(raised.value)
    assert message in said and f"{httpserver.host}:{httpserver.port}" in said
    assert "secret" not in said


def test_a_webhook_nothing_listens_on_or_not_http_is_said():
    with pytest.raises(DeliveryError, match=r"Nothing accepts connections at the Slack webhook's host 127.0.0.1:\d+\."):
        slack.post(f"http://{HOST}:{free_port()}/hook", "hi")
    with pytest.raises(DeliveryError, match="must be an https:// address"):
        slack.post("file:///etc/passwd", "hi")


def test_slack_markup_is_escaped():
    assert slack.escaped("Q&A <live>") == "Q&amp;A &lt;live&gt;"
    assert (
        slack.link("https://h/review?week=2026-W07", "Open <it>") == "<https://h/review?week=2026-W07|Open &lt;it&gt;>"
    )


def test_the_readme_documents_every_delivery_setting():
    from pathlib import Path

    from dashboard.notify.settings import SETTINGS

    readme = (Path(__file__).resolve().parent.parent.parent / "README.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"| `{setting.env}` | `[{setting.section}] {setting.key}` |" in readme, setting.env
