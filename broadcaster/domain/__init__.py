"""The pure core: incidents, reports, linking and wording. Imports nothing that does I/O."""
