"""QR codes of a campaign's short link, as SVG (scales for posters) and PNG (for chat apps)."""

import io

import segno


def _code(url):
    # Error level M survives a crease or a smudge on a printed poster.
    return segno.make(url, error="m", micro=False)


def qr_svg(url, scale=8) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="svg", scale=scale, border=4, xmldecl=True, title=url)
    return out.getvalue()


def qr_png(url, scale=10) -> bytes:
    out = io.BytesIO()
    _code(url).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()
