"""Cards: what a message about an incident says (build), and how each platform shows it (render)."""
