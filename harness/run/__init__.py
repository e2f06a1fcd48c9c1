"""The run floor: configs, the grid runner, tracking (MLflow), tuning (Optuna), verify,
provenance and submission evaluation. Everything here trains or drives training; the
leaderboard never imports it (import-linter contract in `.importlinter`)."""
