"""Channel errors with stable codes."""

from __future__ import annotations

from mercato.kit.errors import Conflict, NotFound


class ChannelNotFound(NotFound):
    code = "channel.not_found"
    title = "Channel not found"


class ChannelCodeTaken(Conflict):
    code = "channel.code_taken"
    title = "Channel code taken"


class CurrencyFixed(Conflict):
    code = "channel.currency_fixed"
    title = "A channel's currency cannot change"
