"""Generated documents (PDF): the fonts they embed. A leaf: imports nothing of the project."""
