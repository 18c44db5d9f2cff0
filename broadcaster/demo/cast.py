"""The people in the story and what they write. Every line here was written for this demo."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Reporter:
    email: str
    name: str
    time_zone: str | None = None  # as their support desk or app would say it
    locale: str | None = None


ERIC = Reporter("eric@example.com", "Eric Olsen")  # says nothing of where he is: the default zone
PRIYA = Reporter("priya@example.com", "Priya Raman", "Asia/Manila", "en_PH")
MAZ = Reporter("maz@example.com", "Maz Ahmed", "America/Sao_Paulo", "pt_BR")
SONIA = Reporter("sonia@example.com", "Sonia Keller")
TOM = Reporter("tom@example.com", "Tom Brennan")

AFFECTED = (ERIC, PRIYA, MAZ)

BEFORE_DECLARATION = (
    (ERIC, "Hi, I am trying to set up a Group for an association I help run. When I upload the "
           "CSV of people to prequalify, I get an \"unexpected error\" message. Can you help?"),
    (PRIYA, "The pre-approved members list of my group won't take my spreadsheet: "
            "unexpected error, three times in a row."),
)
AFTER_DECLARATION = (
    (MAZ, "Unexpected error when I upload a CSV to my group's pre-approved list."),
    (ERIC, "Following up: the CSV upload still fails with the same unexpected error. Any news?"),
)
UNRELATED = (SONIA, "I meant to take the monthly plan but was charged for a full year. "
                    "Could you switch me to monthly and refund the difference?")
AFTER_RESOLUTION = (TOM, "CSV upload to the pre-approved members of my group gives an unexpected error.")

COMMUNICATOR = "Angela B."
TITLE = "CSV upload to pre-approved members fails"
MATCH = ("csv upload", "pre-approved", "prequalify")
DESCRIPTION = ("Uploading a CSV file to a group's pre-approved members list fails with "
               "\"unexpected error\". Nothing in your group was changed or lost.")
WORKAROUND = "You can add pre-approved members one at a time from the group's settings page."
PROGRESS = ("We found the cause: a change to how we read CSV files rejects lines with a "
            "trailing comma. A fix is being tested now.")
INTERNAL_NOTE = "Parser change came in with Tuesday's release; checking whether other imports use it too."
SHARED_NOTE = ("We are testing a corrected CSV reader against every file that failed, so the fix works for all "
               "of them the first time.")
MONITORING = ("The fix is live for every group, and uploads that failed before now go through. We are watching "
              "the next hours of uploads to make sure it holds.")
RESOLUTION = "The fix is live: CSV uploads to pre-approved members lists work again."
HOW_TO_VERIFY = ("Open your group, choose Settings > Pre-approved members, and upload your CSV "
                 "again. The members appear in the list within a minute.")
