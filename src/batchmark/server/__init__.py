"""The shared leaderboard: a FastAPI app that takes runs uploaded with a token and shows them to everyone.

Needs the `[server]` extra (FastAPI, uvicorn, pydantic-settings). `create_app` is in `main`.
"""
