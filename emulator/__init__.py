"""A local Discord API emulator for testing bots with the real discord.py over real sockets.

It knows nothing about any particular bot. Start it, point discord.py at it
(:func:`emulator.client.point_discord_py_at`), build a guild with members, and let the members use
the bot; every answer is checked against Discord's rules and recorded.
"""

from .errors import (
    AnswerRejectedError,
    ApiError,
    EmulatorError,
    NoAnswerError,
    ScenarioError,
    Violation,
)
from .faults import Faults, RoutePattern
from .interactions import InteractionRecord, Modal, ModalField, Reply
from .mentions import Pings
from .model import Attachment, Channel, ForumTag, Guild, Member, Message, Role, User
from .permissions import DEFAULT_BOT, DEFAULT_EVERYONE, Permission
from .rest import RequestRecord
from .server import Emulator

__all__ = [
    "DEFAULT_BOT",
    "DEFAULT_EVERYONE",
    "AnswerRejectedError",
    "ApiError",
    "Attachment",
    "Channel",
    "Emulator",
    "EmulatorError",
    "Faults",
    "ForumTag",
    "Guild",
    "InteractionRecord",
    "Member",
    "Message",
    "Modal",
    "ModalField",
    "NoAnswerError",
    "Permission",
    "Pings",
    "Reply",
    "RequestRecord",
    "Role",
    "RoutePattern",
    "ScenarioError",
    "User",
    "Violation",
]
