"""Prices that can be defended: a listing's price against its reference market price, flagged in review when it is
above it by more than the configured share (PRICE_ABOVE_REFERENCE_PCT, 20 % by default)."""

from dataclasses import dataclass

from flask import current_app

DEFAULT_SHARE_PCT = 20


@dataclass(frozen=True)
class PriceCheck:
    reference_price_fen: int
    difference_fen: int
    # Above (or below, negative) the reference, in tenths of a percent: 875 is 87.5 %.
    above_permille: int
    flagged: bool

    @property
    def above_pct(self) -> float:
        return self.above_permille / 10


def allowed_share_pct() -> int:
    return int(current_app.config.get("PRICE_ABOVE_REFERENCE_PCT", DEFAULT_SHARE_PCT))


def price_check(price_fen, reference_price_fen, share_pct=None) -> PriceCheck | None:
    """How a price compares with its reference; None without a reference. Integer arithmetic only (money in fen).

    :param share_pct: the share above the reference that is still fine (default: the configured one).
    """
    if not reference_price_fen:
        return None
    share_pct = allowed_share_pct() if share_pct is None else share_pct
    difference = price_fen - reference_price_fen
    return PriceCheck(
        reference_price_fen=reference_price_fen,
        difference_fen=difference,
        above_permille=round(difference * 1000 / reference_price_fen),
        # price > reference × (1 + share): compared in whole fen × 100, no rounding.
        flagged=price_fen * 100 > reference_price_fen * (100 + share_pct),
    )


def listing_price_check(listing) -> PriceCheck | None:
    return price_check(listing.price_fen, listing.reference_price_fen)
