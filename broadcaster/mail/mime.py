"""Standard MIME messages (RFC 5322), as the outbox stores them."""

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from broadcaster.domain.email import OutgoingEmail


# CRLF line ends, as on the wire; RFC 5322's 998-character line limit rather than 78,
# so subjects stay on one line and bodies stay readable (8bit, not quoted-printable).
EML_POLICY = policy.SMTP.clone(max_line_length=998)


def to_mime(email: OutgoingEmail, from_email: str, from_name: str) -> EmailMessage:
    message = EmailMessage(policy=EML_POLICY)
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
