"""rebill-bot: app wiring, settings and the command-line entry point."""
