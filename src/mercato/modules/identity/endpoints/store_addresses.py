"""/store/me/addresses: the signed-in customer's address book."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.kit.web.params import PageParams, page_params
from mercato.kit.web.problems import problem_responses
from mercato.kit.web.routing import MercatoRoute, get_session
from mercato.modules.identity import addresses
from mercato.modules.identity.endpoints.store_me import current_customer
from mercato.modules.identity.models import Address, Customer
from mercato.modules.identity.schemas import AddressIn, AddressList, AddressOut, AddressUpdateIn

router = APIRouter(prefix="/store/me/addresses", tags=["store: account"], route_class=MercatoRoute)


def address_out(row: Address) -> AddressOut:
    return AddressOut(
        id=str(row.id), label=row.label, first_name=row.first_name, last_name=row.last_name, company=row.company,
        line1=row.line1, line2=row.line2, city=row.city, region=row.region, postal_code=row.postal_code,
        country_code=row.country_code, phone=row.phone, is_default_shipping=row.is_default_shipping,
        is_default_billing=row.is_default_billing, created_at=row.created_at, updated_at=row.updated_at,
    )


@router.get("", response_model=AddressList, responses=problem_responses(401, 422))
async def list_addresses(
    page: PageParams = Depends(page_params), customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> AddressList:
    """The address book, oldest first (at most 50 addresses)."""
    result = await addresses.list_addresses(session, customer.id, limit=page.limit, cursor=page.cursor)
    return AddressList(items=[address_out(row) for row in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=201, response_model=AddressOut, responses=problem_responses(400, 401, 404, 409, 415, 422))
async def create_address(
    body: AddressIn, response: Response, customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> AddressOut:
    """Add an address, checked and normalised by its country's rules (422 `address.invalid` names the
    fields). Marking it the default shipping or billing address takes that flag from the previous one.
    A 51st address is refused with 409 `address.limit_reached`."""
    data = body.model_dump()
    row = await addresses.create_address(
        session, customer.id,
        addresses.AddressInput(
            postal=addresses.PostalAddress.from_mapping(data), label=body.label,
            is_default_shipping=body.is_default_shipping, is_default_billing=body.is_default_billing,
        ),
    )
    response.headers["location"] = f"/store/me/addresses/{row.id}"
    return address_out(row)


@router.get("/{address_id}", response_model=AddressOut, responses=problem_responses(401, 404))
async def get_address(
    address_id: str, customer: Customer = Depends(current_customer), session: AsyncSession = Depends(get_session),
) -> AddressOut:
    return address_out(await addresses.get_address(session, customer.id, address_id))


@router.patch("/{address_id}", response_model=AddressOut, responses=problem_responses(400, 401, 404, 415, 422))
async def update_address(
    address_id: str, body: AddressUpdateIn, customer: Customer = Depends(current_customer),
    session: AsyncSession = Depends(get_session),
) -> AddressOut:
    """Change some fields (null clears an optional one); the whole address is checked again."""
    row = await addresses.update_address(session, customer.id, address_id,
                                         body.model_dump(exclude_unset=True))
    return address_out(row)


@router.delete("/{address_id}", status_code=204, response_class=Response, responses=problem_responses(401, 404))
async def delete_address(
    address_id: str, customer: Customer = Depends(current_customer), session: AsyncSession = Depends(get_session),
) -> Response:
    await addresses.delete_address(session, customer.id, address_id)
    return Response(status_code=204)
