"""ORM models. Importing this package registers every table on ``Base.metadata`` (Alembic needs
all of them)."""

from models.base import Base, UTCDateTime
from models.guild import GuildSettings
from models.member import Member, MemberPrivate

__all__ = ["Base", "GuildSettings", "Member", "MemberPrivate", "UTCDateTime"]
