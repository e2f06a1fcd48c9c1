"""condbench leaderboard."""
