"""Pictures for members: a PNG of their weeks of goals (``/stats``), drawn with Pillow. No
Discord and no I/O: bytes in memory."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

from PIL import Image, ImageDraw, ImageFont

from bot.domain.stats import WeekTally

WIDTH, HEIGHT = 720, 360
BACKGROUND = (255, 255, 255)
INK = (40, 40, 40)
GRID = (225, 225, 225)
OFF = (200, 200, 200)
COLOURS = (("done", (67, 160, 71)), ("partly", (249, 168, 37)), ("missed", (229, 57, 53)))


def weekly_chart(weeks: Sequence[WeekTally], *, title: str = "Your goals, week by week") -> bytes:
    """Stacked bars per week (done, partly, missed), weeks off in grey; a PNG."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    left, right, top, bottom = 48, WIDTH - 16, 64, HEIGHT - 40
    draw.text((left, 12), title, fill=INK, font=font)
    x = left
    for name, colour in (*COLOURS, ("week off", OFF)):
        draw.rectangle((x, 38, x + 12, 50), fill=colour)
        draw.text((x + 18, 37), name, fill=INK, font=small)
        x += 18 + int(draw.textlength(name, font=small)) + 24
    most = max([w.finished for w in weeks] + [1])
    step = max(1, (most + 4) // 5)
    for value in range(0, most + 1, step):
        y = bottom - (bottom - top) * value / most
        draw.line((left, y, right, y), fill=GRID)
        draw.text((left - 8, y), str(value), fill=INK, font=small, anchor="rm")
    slot = (right - left) / max(len(weeks), 1)
    bar = slot * 0.6
    for index, week in enumerate(weeks):
        x0 = left + index * slot + (slot - bar) / 2
        if week.snoozed and not week.finished:
            draw.rectangle((x0, top, x0 + bar, bottom), fill=OFF)
        base = float(bottom)
        for name, colour in COLOURS:
            count = getattr(week, name)
            if count:
                height = (bottom - top) * count / most
                draw.rectangle((x0, base - height, x0 + bar, base), fill=colour)
                base -= height
        label = f"{week.week:%b} {week.week.day}"
        draw.text((x0 + bar / 2, bottom + 8), label, fill=INK, font=small, anchor="mt")
    draw.line((left, bottom, right, bottom), fill=INK)
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
