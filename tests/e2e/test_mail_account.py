"""A refused SendGrid account (revoked key, unverified sender) holds email; nobody's dies, and status says why."""

from collections import Counter

from tests.e2e.test_deliveries import delivery_states
from tests.support.waiting import wait_for


def test_emails_wait_while_sendgrid_refuses_the_account_and_go_out_once_it_works(system_factory, sqlite_url) -> None:
    system = system_factory(sqlite_url, "sendgrid", delivery_max_attempts=2, mail_account_pause="1s",
                            sweep_interval=0.5)
    system.sandbox.state.account_status = 403
    system.run("incident", "declare", "Search returns nothing", "--component", "search", "--match", "search")
    for who in ("ann", "bob"):
        system.run("report", "submit", "--email", f"{who}@example.com", "--name", who.title(), "--text",
                   "search is broken for me", "--component", "search")
    wait_for(lambda: delivery_states(sqlite_url) == ["held", "held"], what="both acknowledgements held")
    wait_for(lambda: system.sandbox.state.requests >= 3, what="a few tries, more than the two attempts allowed")
    assert set(delivery_states(sqlite_url)) <= {"held", "sending"}  # still waiting, not dead
    status = system.invoke("status")
    assert status.exit_code == 1
    assert "mail account" in status.output and "SendGrid answered 403" in status.output
    assert "go out by themselves once the account works" in status.output

    system.sandbox.state.account_status = None  # the sender identity was verified
    wait_for(lambda: delivery_states(sqlite_url) == ["sent", "sent"], what="the held emails to go out")
    assert system.counts() == {"ann@example.com": Counter(acknowledgement=1), "bob@example.com": Counter(acknowledgement=1)}
    assert "mail account" in system.run("status").output
