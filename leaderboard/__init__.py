"""The public leaderboard: a FastAPI app that only reads the results store."""
