class InvalidMessage(ValueError):
    """A message that no processor can use: it goes to the dead-letter topic with this reason."""
