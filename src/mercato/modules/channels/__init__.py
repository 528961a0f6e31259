"""Channels: where and in which currency the shop sells."""

from mercato.modules.channels.service import BASE_CHANNELS, list_channels, seed_base

__all__ = ["BASE_CHANNELS", "list_channels", "seed_base"]
