"""The ``broadcaster`` command line: what engineers, support tools and ops type."""
