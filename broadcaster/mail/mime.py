"""Standard MIME messages (RFC 5322), as the outbox stores them."""

from email.message import EmailMessage
from email.utils import formataddr, format_datetime, make_msgid
from datetime import UTC, datetime

from broadcaster.domain.email import OutgoingEmail


def to_mime(email: OutgoingEmail, from_email: str, from_name: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((from_name, from_email))
    message["To"] = formataddr((email.to_name, email.to_email))
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(f"delivery-{email.delivery_id}", domain=from_email.split("@")[-1])
    for header, value in email.headers.items():
        message[header] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message
