"""Channels: where and in which currency the shop sells."""

from mercato.modules.channels.service import (
    BASE_CHANNELS,
    CACHE_TAG,
    ChannelInfo,
    channel_by_code,
    list_channels,
    seed_base,
)

__all__ = ["BASE_CHANNELS", "CACHE_TAG", "ChannelInfo", "channel_by_code", "list_channels", "seed_base"]
