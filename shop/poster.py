"""A campaign's share poster: one PNG with its cover, title, closing time and the QR code of its short link.

Chat groups pass images around better than links, and printed posters hang in canteens. The text needs a font with
Chinese glyphs; none ships with the project, so the system's usual places are searched (POSTER_FONT first), and
without one Pillow's own font is used: the poster is always made, the QR code always scans.
"""

import io
import re
from functools import lru_cache
from pathlib import Path

import segno
from flask import current_app
from PIL import Image, ImageDraw, ImageFont, ImageOps

WIDTH, HEIGHT = 750, 1334
MARGIN = 48
COVER_HEIGHT = 420
BAND_HEIGHT = 140
QR_SIDE = 440  # at most; the code is drawn at a whole number of pixels per module so every module stays sharp
QR_BORDER = 4
CAPTION_SPACE, FOOTER_SPACE = 60, 80
GREEN, DARK, GREY = (25, 135, 84), (33, 37, 41), (108, 117, 125)

# Where Debian/Ubuntu (fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk, fonts-droid-fallback), macOS and
# Windows keep a font with Chinese glyphs.
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)


@lru_cache(maxsize=8)
def _font_file(configured) -> str | None:
    for candidate in (configured, *CJK_FONTS):
        if not candidate or not Path(candidate).is_file():
            continue
        try:
            ImageFont.truetype(candidate, 12)
        except OSError:
            continue
        return candidate
    return None


def font_file() -> str | None:
    """The font the poster is written in, or None for Pillow's default (no Chinese glyphs)."""
    return _font_file(current_app.config.get("POSTER_FONT"))


@lru_cache(maxsize=32)
def _font(path, size):
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    return ImageFont.load_default(size)


def _code(url):
    # Error level M, as the bare QR code (shop/qr.py): survives a crease or a smudge on a printed poster.
    return segno.make(url, error="m", micro=False)


def qr_box(url, top) -> tuple[int, int, int]:
    """Where the poster draws the QR code of ``url`` whose box starts at ``top``: (left, top, pixels per module)."""
    side = _code(url).symbol_size(scale=1, border=QR_BORDER)[0]
    scale = QR_SIDE // side
    return (WIDTH - side * scale) // 2, top, scale


def _tokens(text, draw, font, width):
    """Latin words stay whole (unless one alone is too wide); Chinese may break between any two characters."""
    for token in re.findall(r"[!-~]+ ?|.", " ".join(text.split())):
        if len(token) > 1 and draw.textlength(token, font=font) > width:
            yield from token
        else:
            yield token


def _wrap(draw, text, font, width, max_lines):
    """Lines of ``text`` no wider than ``width``; an overflow ends in …"""
    lines, line = [], ""
    for token in _tokens(text, draw, font, width):
        if draw.textlength((line + token).rstrip(), font=font) <= width:
            line += token
            continue
        lines.append(line.rstrip())
        line = token.lstrip()
        if len(lines) == max_lines:
            break
    else:
        if line:
            lines.append(line.rstrip())
        return lines
    last = lines[-1]
    while last and draw.textlength(last + "…", font=font) > width:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


def _centred(draw, y, text, font, fill):
    draw.text(((WIDTH - draw.textlength(text, font=font)) / 2, y), text, font=font, fill=fill)


def _cover(path):
    """The cover cut to the poster's width, or None when there is none (or it cannot be read)."""
    if path is None or not path.is_file():
        return None
    try:
        with Image.open(path) as image:
            return ImageOps.fit(image.convert("RGB"), (WIDTH, COVER_HEIGHT), Image.Resampling.LANCZOS)
    except (OSError, Image.DecompressionBombError):
        return None


def render_poster(*, title, url, closes_text, scan_text, brand, cover_path=None) -> bytes:
    """The poster as PNG bytes; texts come translated (the caller picks the language), ``url`` is the short link."""
    font = font_file()
    poster = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(poster)
    cover = _cover(cover_path)
    if cover is not None:
        poster.paste(cover, (0, 0))
        y = COVER_HEIGHT
    else:
        draw.rectangle((0, 0, WIDTH, BAND_HEIGHT), fill=GREEN)
        _centred(draw, 44, brand, _font(font, 48), "white")
        y = BAND_HEIGHT
    y += 40
    title_font = _font(font, 46)
    for line in _wrap(draw, title, title_font, WIDTH - 2 * MARGIN, 3):
        draw.text((MARGIN, y), line, font=title_font, fill=DARK)
        y += 62
    y += 8
    draw.text((MARGIN, y), closes_text, font=_font(font, 32), fill=GREEN)
    y += 64
    # The code and its caption sit in the middle of the space left above the footer.
    left, _top, scale = qr_box(url, y)
    qr_height = _code(url).symbol_size(scale=scale, border=QR_BORDER)[1]
    left, top, scale = qr_box(url, y + max(0, (HEIGHT - FOOTER_SPACE - y - qr_height - CAPTION_SPACE) // 2))
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=scale, border=QR_BORDER)
    qr_image = Image.open(io.BytesIO(out.getvalue())).convert("RGB")
    poster.paste(qr_image, (left, top))
    y = top + qr_image.height + 16
    _centred(draw, y, scan_text, _font(font, 28), DARK)
    _centred(draw, HEIGHT - 56, url, _font(font, 24), GREY)
    result = io.BytesIO()
    poster.save(result, "PNG", optimize=True)
    return result.getvalue()
