"""Every e-mail, as a real SMTP server on loopback (aiosmtpd) receives it: a plain-text part,
always, in UTF-8 with its French spelling; a Message-ID on our own domain (PUBLIC_URL's host,
or MAIL_MESSAGE_ID_DOMAIN), the same on every attempt. The e-mail templates are enumerated
from the template registry: one added later is checked here too."""

import pytest
from jinja2 import ChainableUndefined, Environment, FileSystemLoader

from app.core.settings import Settings
from app.notifications import templates
from app.notifications.senders import Outgoing, SmtpSender, message_id_domain
from tests.fakes.smtp import SmtpServer


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def _email_kinds() -> list[str]:
    return [kind for kind, channel in templates.registry() if channel == "email"]


def _body(kind: str) -> str:
    """The template rendered with every variable present (a lenient environment): what is
    checked here is the e-mail as it leaves, not each template's wording."""
    lenient = Environment(loader=FileSystemLoader(templates.TEMPLATES), undefined=ChainableUndefined)
    return lenient.get_template(templates.template_name(kind, "email")).render().strip() + "\n"


def test_every_email_has_a_plain_text_part_and_a_message_id_on_our_domain(smtp, settings):
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "public_url": "https://orientation.cpts-exemple.fr"}
    )
    sender = SmtpSender(configured)
    kinds = _email_kinds()
    assert {"receipt", "doctor_list", "outcome", "offer", "weekly_digest"} <= set(kinds)
    for number, kind in enumerate(kinds):
        body = _body(kind) + "Hélène, Françoise, Benoît\n"
        outgoing = Outgoing(f"key{number:04d}", "email", "patient@example.fr", templates.SUBJECTS[kind], body)
        sender.send(outgoing, lambda receipt=None: None)
    assert len(smtp.messages) == len(kinds)
    for number, received in enumerate(smtp.messages):
        plain = received.get_body(preferencelist=("plain",))
        assert plain is not None, f"{kinds[number]}: no text/plain part"
        assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
        assert "Hélène, Françoise, Benoît" in plain.get_content()  # e-mails keep their spelling
        assert received["Message-ID"] == f"<key{number:04d}@orientation.cpts-exemple.fr>"


def test_the_message_id_domain_is_ours(settings):
    assert message_id_domain(settings.model_copy(update={"public_url": "https://cpts.example.fr"})) == "cpts.example.fr"
    chosen = settings.model_copy(update={"mail_message_id_domain": "mail.cpts.example.fr"})
    assert message_id_domain(chosen) == "mail.cpts.example.fr"
    bare = Settings(database_url=settings.database_url, mail_from="CPTS <contact@cpts-arras.example.fr>")
    assert message_id_domain(bare) == "cpts-arras.example.fr"
