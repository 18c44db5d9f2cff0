"""The service layer: one function per thing the system does, given a session and the facts."""
