"""What the emails say: wording and templates, kept apart from who gets them and how they go."""
