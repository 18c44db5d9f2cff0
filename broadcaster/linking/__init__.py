"""Linking reports to incidents: text features, the scoring matcher, early warning and evaluation.

Pure computation (no I/O); the service layer feeds it incidents and reports from the database.
"""
