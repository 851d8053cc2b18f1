"""ORM models. Importing this package registers every table on ``Base.metadata`` (Alembic needs
all of them)."""

from models.base import Base, UTCDateTime
from models.goals import CheckIn, Feedback, Goal, MissedReflection, Snooze
from models.guild import GuildSettings
from models.meetings import Meeting, MeetingAnswer, Report
from models.member import Member, MemberPrivate
from models.outbox import OutboxItem, OutboxState
from models.partnership import MatchRound, Partnership, PartnershipMember
from models.pool import Block, PartnerRequest
from models.rounds import RoundStanding
from models.send_budget import SendBudget
from models.sweep import SweepCursor

__all__ = [
    "Base",
    "Block",
    "CheckIn",
    "Feedback",
    "Goal",
    "GuildSettings",
    "MatchRound",
    "Meeting",
    "MeetingAnswer",
    "Member",
    "MemberPrivate",
    "MissedReflection",
    "OutboxItem",
    "OutboxState",
    "PartnerRequest",
    "Partnership",
    "PartnershipMember",
    "Report",
    "RoundStanding",
    "SendBudget",
    "Snooze",
    "SweepCursor",
    "UTCDateTime",
]
