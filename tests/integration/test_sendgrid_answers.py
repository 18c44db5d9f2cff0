"""What SendGrid answers decides who is affected: one bad recipient, a bad request, or a refused account.

Against the local stand-in (tests/support/sendgrid_server.py), which answers as SendGrid
does, with ``errors[].field`` naming what it refuses.
"""

from datetime import timedelta

import pytest

from broadcaster.domain.email import OutgoingEmail, SharedContent
from broadcaster.mail.sendgrid_api import AccountPause, SendGridMailer
from tests.support.sendgrid_server import SandboxServer
from tests.support.waiting import wait_for


def people(count: int) -> list[OutgoingEmail]:
    shared = SharedContent("update-9:resolution", "[Resolved] Import fixed", "Hi -bc_name-", "<p>Hi -bc_name_html-</p>")
    return [OutgoingEmail(n, f"user{n}@example.com", f"User {n}", shared.subject, "Hi", "<p>Hi</p>",
                          {"X-Broadcaster-Delivery": str(n)}, shared, {"-bc_name-": f"User {n}", "-bc_name_html-": f"User {n}"})
            for n in range(1, count + 1)]


def mailer(sandbox: SandboxServer, key: str = "test-key", from_email: str = "support@example.com",
           pause: timedelta = timedelta(minutes=5)) -> SendGridMailer:
    return SendGridMailer(key, sandbox.url, from_email, "Example Support", account_pause=pause,
                          account_pause_cap=pause * 8)


def test_a_400_naming_one_recipient_refuses_only_that_one_and_sends_the_rest_in_one_more_request(sandbox) -> None:
    """Before: 19 requests to isolate one address of 1,000 by halving. Now: two."""
    sandbox.state.refused_addresses = {"user501@example.com"}
    results = mailer(sandbox).send(people(1000))
    refused = [r for r in results if not r.accepted]
    assert [r.delivery_id for r in refused] == [501] and not refused[0].retryable
    assert "personalizations.500.to.0.email" in (refused[0].error or "")
    assert sandbox.state.requests == 2 and len(sandbox.state.recipients()) == 999


def test_a_400_about_the_whole_request_fails_the_batch_once_with_sendgrids_message(sandbox) -> None:
    """Before: the batch was halved down to single recipients, 1,999 requests, every one refused."""
    results = mailer(sandbox, from_email="support@@example.com").send(people(1000))
    assert sandbox.state.requests == 1
    assert all(not r.accepted and not r.retryable and not r.held for r in results) and len(results) == 1000
    assert results[0].error.startswith("SendGrid answered 400: ") and "(from.email)" in results[0].error


@pytest.mark.parametrize(("problem", "status"), [("account_status", 401), ("wrong_key", 401), ("no_scope", 403),
                                                 ("unverified_sender", 403)])
def test_a_refused_account_holds_everyone_and_stops_calling_the_api_for_the_pause(sandbox, problem, status) -> None:
    key = "wrong-key" if problem == "wrong_key" else "test-key"
    if problem == "account_status":
        sandbox.state.account_status = status
    elif problem == "no_scope":
        sandbox.state.key_scopes = set()
    elif problem == "unverified_sender":
        sandbox.state.verified_senders = {"someone-else@example.com"}
    sending = mailer(sandbox, key)
    results = sending.send(people(3))
    assert all(r.held and r.retryable and not r.accepted and r.retry_after == 300 for r in results)
    assert f"SendGrid answered {status}" in (results[0].error or "") and sending.account_problem
    again = sending.send(people(3))  # during the pause: nobody is tried, nobody dies
    assert all(r.held for r in again) and sandbox.state.requests == 1


def test_sending_resumes_by_itself_once_the_account_works_again(sandbox) -> None:
    sandbox.state.account_status = 403
    sending = mailer(sandbox, pause=timedelta(milliseconds=200))
    assert all(r.held for r in sending.send(people(2)))
    sandbox.state.account_status = None  # someone verified the sender
    wait_for(lambda: all(r.accepted for r in sending.send(people(2))), timeout=10, what="sending to resume")
    assert sending.account_problem is None and sorted(sandbox.state.recipients()) == ["user1@example.com",
                                                                                    "user2@example.com"]


def refused_once_it_ran_out(pause: AccountPause, problem: str) -> float:
    pause.until = 0.0  # the pause has run out, and the next try is refused too
    return pause.refused(problem)


def test_the_pause_doubles_while_the_refusal_lasts_up_to_its_cap_and_resets_when_it_works() -> None:
    pause = AccountPause(timedelta(minutes=5), timedelta(minutes=30))
    assert [refused_once_it_ran_out(pause, "403") for _ in range(5)] == [300, 600, 1200, 1800, 1800]
    pause.worked()
    assert pause.refused("401") == 300 and pause.problem == "401"


def test_refusals_of_requests_sent_side_by_side_lengthen_the_pause_once() -> None:
    pause = AccountPause(timedelta(minutes=5), timedelta(minutes=30))
    assert pause.refused("403") == 300
    assert 299 < pause.refused("403") <= 300 and pause.length == 300  # sent before the pause began
