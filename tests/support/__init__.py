"""Helpers shared by the tests: real services started per session, fresh names per test."""
