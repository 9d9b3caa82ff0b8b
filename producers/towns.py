"""Towns and subdistricts producers are located in: Lechang's 17 by default, or the PRODUCER_TOWNS setting."""

from flask import current_app

# Lechang (乐昌市) has 1 subdistrict and 16 towns (镇/街), the "17 个镇(街)" of the 2020 report.
LECHANG_TOWNS = (
    "乐城街道",
    "北乡镇",
    "九峰镇",
    "廊田镇",
    "长来镇",
    "梅花镇",
    "三溪镇",
    "坪石镇",
    "黄圃镇",
    "五山镇",
    "两江镇",
    "沙坪镇",
    "云岩镇",
    "秀水镇",
    "大源镇",
    "庆云镇",
    "白石镇",
)


def town_names() -> tuple[str, ...]:
    """The configured towns (PRODUCER_TOWNS, comma-separated), else Lechang's 17."""
    configured = current_app.config.get("PRODUCER_TOWNS")
    return tuple(configured) if configured else LECHANG_TOWNS
