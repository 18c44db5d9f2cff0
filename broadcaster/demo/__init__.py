"""The CSV-upload story from ../shared/seeds, played against a real running system."""
