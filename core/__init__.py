"""Business logic: plain Python over a DB session, shared by Slack listeners, the CLI and jobs.

Nothing in this package imports Slack.
"""
