"""Producers, their listings of unsold goods, photos and pick lists."""
