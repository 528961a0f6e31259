"""A gateway that counts the calls that reach it (wrapping the test gateway), for idempotency tests."""

from __future__ import annotations

import asyncio

from mercato.modules.payments import (
    AuthorizeRequest,
    CaptureRequest,
    ConfirmRequest,
    GatewayResult,
    RefundRequest,
    TestGateway,
    VoidRequest,
)


class SpyGateway:
    def __init__(self, name: str = "spy", delay_s: float = 0.0) -> None:
        self.name = name
        self.delay_s = delay_s
        self.keys: list[str] = []
        self._inner = TestGateway()

    @property
    def authorize_calls(self) -> int:
        return len(self.keys)

    async def authorize(self, req: AuthorizeRequest) -> GatewayResult:
        self.keys.append(req.idempotency_key)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # widens the window in which a duplicate could slip through
        return await self._inner.authorize(req)

    async def confirm(self, req: ConfirmRequest) -> GatewayResult:
        return await self._inner.confirm(req)

    async def capture(self, req: CaptureRequest) -> GatewayResult:
        return await self._inner.capture(req)

    async def void(self, req: VoidRequest) -> GatewayResult:
        return await self._inner.void(req)

    async def refund(self, req: RefundRequest) -> GatewayResult:
        return await self._inner.refund(req)
