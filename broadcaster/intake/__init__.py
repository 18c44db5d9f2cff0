"""The intake API (``broadcaster serve``): bug reports over HTTP, accepted through the SQL outbox."""
