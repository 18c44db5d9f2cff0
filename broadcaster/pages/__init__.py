"""The public web pages of `broadcaster serve`: one page per incident, the list, feeds, following and managing email.

Server-rendered with Jinja2 (autoescaped), usable without JavaScript; mounted on the intake
app by ``routes.pages_router``. The work is in services/public_incidents.py and
services/unsubscribe.py; this package is HTTP, forms and HTML.
"""
