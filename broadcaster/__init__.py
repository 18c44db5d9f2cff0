"""Broadcaster: tell every user who hit an incident what is happening, until it is fixed."""
