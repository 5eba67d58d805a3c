"""The Slack adapter (slack-bolt ``AsyncApp``): see ``app.py`` for the wiring."""
