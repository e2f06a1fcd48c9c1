"""condbench condensers/llm."""
