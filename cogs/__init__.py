"""Feature cogs: thin glue between Discord and ``bot.services``.

``EXTENSIONS`` is the explicit list the bot loads, in order.
"""

EXTENSIONS: tuple[str, ...] = (
    "cogs.help",
    "cogs.profiles",
    "cogs.partners",
    "cogs.admin",
    "cogs.goals",
    "cogs.pairs",
    "cogs.privacy",
)
