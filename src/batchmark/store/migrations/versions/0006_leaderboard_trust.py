"""The leaderboard's trust and speed, and runs that say how they ended (issue 16)

Three parts, each its own function, so that each concern's schema change reads on its own: what the server
checks and ties to a token, what it precomputes for fast pages and shared rate limits, and how a local run
ended.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from alembic import op  # noqa: F401  (the parts below use it)
import sqlalchemy as sa  # noqa: F401


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_integrity()
    upgrade_availability()
    upgrade_run_endings()


def downgrade() -> None:
    downgrade_run_endings()
    downgrade_availability()
    downgrade_integrity()


# --- integrity: machines owned by tokens, compact samples -------------------------------------------------------

def upgrade_integrity() -> None:
    pass


def downgrade_integrity() -> None:
    pass


# --- availability: statistics stored at submit, rate limits shared by workers -----------------------------------

def upgrade_availability() -> None:
    pass


def downgrade_availability() -> None:
    pass


# --- run endings: how a run ended (finished, Ctrl-C, SIGTERM, killed) -------------------------------------------

def upgrade_run_endings() -> None:
    pass


def downgrade_run_endings() -> None:
    pass
