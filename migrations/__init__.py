"""Alembic migrations, shipped inside the package so `rebill-bot db upgrade` works after pip install."""
