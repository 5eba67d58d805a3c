"""The Discord adapter (discord.py 2.x): slash commands, the daily question with its persistent
Answer button and modal, the reveal in a thread, and the outbox notifier. ``app.DiscordAdapter``
is what ``bot.runtime`` loads."""
