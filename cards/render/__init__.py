"""Pure renderers: one per platform turns a Card into that platform's JSON or text."""
