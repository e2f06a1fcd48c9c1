"""condbench recommenders."""
