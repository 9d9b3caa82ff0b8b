"""What a campaign's link travels with: QR codes, the share poster, the cover photo, and the card a chat app shows.

All public for a published campaign (the same for everyone, so caches may keep them); drafts only for operators.
"""

from flask import abort, make_response, request, send_from_directory, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import bearer_user
from presentation import local_date, local_datetime
from shop import catalogue, covers, poster, qr

DESCRIPTION_CHARS = 120
PUBLIC_MAX_AGE = 600


def _viewer():
    if current_user.is_authenticated:
        return current_user
    return bearer_user()


def _shown(slug):
    """:raises NotFound: no such campaign, or a draft for anyone but an operator."""
    return catalogue.get_public_campaign_by_slug(_viewer(), slug)


def _cache(response, campaign):
    """A published campaign's material is the same for everyone: shared caches may keep it for a while."""
    if catalogue.campaign_visible_to(None, campaign):
        response.cache_control.public = True
        response.cache_control.max_age = PUBLIC_MAX_AGE
    else:
        response.cache_control.private = True
        response.cache_control.max_age = 0
    return response


def _download(campaign, data, mimetype, filename):
    response = make_response(data)
    response.mimetype = mimetype
    disposition = "attachment" if request.args.get("download") else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return _cache(response, campaign)


def qr_svg(slug):
    campaign = _shown(slug)
    return _download(campaign, qr.qr_svg(catalogue.short_url(campaign)), "image/svg+xml", f"pinbang-{campaign.slug}.svg")


def qr_png(slug):
    campaign = _shown(slug)
    return _download(campaign, qr.qr_png(catalogue.short_url(campaign)), "image/png", f"pinbang-{campaign.slug}.png")


def poster_png(slug):
    """The share poster, in Chinese whatever the viewer's language: it is printed and forwarded to everyone."""
    campaign = _shown(slug)
    with force_locale("zh_CN"):
        data = poster.render_poster(
            title=campaign.title,
            url=catalogue.short_url(campaign),
            closes_text=_("Orders close %(time)s", time=local_datetime(campaign.closes_at)),
            scan_text=_("Scan or long-press the code to pre-order"),
            brand=_("Pinbang · consumption aid"),
            cover_path=covers.cover_path(campaign),
        )
    return _download(campaign, data, "image/png", f"pinbang-{campaign.slug}-poster.png")


def cover(token):
    """A campaign's cover by its random token, for whoever may see the campaign (anyone, once it is published)."""
    campaign = covers.get_visible_cover(_viewer(), token)
    path = covers.cover_path(campaign)
    if path is None or not path.is_file():
        abort(404)
    response = send_from_directory(path.parent, path.name, mimetype="image/jpeg", conditional=True)
    return _cache(response, campaign)


def share_card(campaign) -> dict:
    """The card a chat app draws for a pasted link (Open Graph): every URL absolute, on PUBLIC_URL."""
    closing = _(
        "Pre-order until %(time)s; delivered to your work unit on %(date)s.",
        time=local_datetime(campaign.closes_at),
        date=local_date(campaign.delivery_on),
    )
    description = " ".join((campaign.description or "").split())
    if len(description) > DESCRIPTION_CHARS:
        description = description[:DESCRIPTION_CHARS].rstrip() + "…"
    if campaign.cover_photo:
        image = url_for("shop.cover", token=campaign.cover_token)
    else:
        image = url_for("shop.poster_png", slug=campaign.slug)
    return {
        "title": campaign.title,
        "description": f"{description} {closing}" if description else closing,
        "url": catalogue.short_url(campaign),
        "image": catalogue.absolute_url(image),
        "poster": catalogue.absolute_url(url_for("shop.poster_png", slug=campaign.slug)),
    }
