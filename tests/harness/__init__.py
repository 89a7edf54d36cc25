"""Real-HTTP stand-ins for the outside world: Slack's Web API, and a signed Slack sender."""
