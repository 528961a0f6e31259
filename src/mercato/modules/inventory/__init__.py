"""Inventory: warehouses, stock and its ledger, reservations and allocations, lots, replenishment.

Checkout and fulfilment use the stock service below: reserve a cart's lines, convert the hold into
allocations when the order is placed, ship allocations, release or deallocate what is not needed.
"""

from mercato.modules.inventory.errors import InsufficientStock as InsufficientStock
from mercato.modules.inventory.rules import STRATEGIES as STRATEGIES
from mercato.modules.inventory.seed import seed_demo_stock as seed_demo_stock
from mercato.modules.inventory.stock import AllocationRow as AllocationRow
from mercato.modules.inventory.stock import ReservationRow as ReservationRow
from mercato.modules.inventory.stock import ReserveLine as ReserveLine
from mercato.modules.inventory.stock import StockRow as StockRow
from mercato.modules.inventory.stock import allocate as allocate
from mercato.modules.inventory.stock import allocations as allocations
from mercato.modules.inventory.stock import deallocate as deallocate
from mercato.modules.inventory.stock import refresh as refresh
from mercato.modules.inventory.stock import release as release
from mercato.modules.inventory.stock import reservations as reservations
from mercato.modules.inventory.stock import reserve as reserve
from mercato.modules.inventory.stock import ship as ship
from mercato.modules.inventory.stock import verify as verify
