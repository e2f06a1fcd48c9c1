"""condbench condensers."""
