"""Native Bucket Inventory (NBI, AIS's name): a snapshot of a remote bucket's listing kept
on the node, so that listing a very large bucket does not walk the backend again.

- :mod:`.names`: AIS's names (action, flag, headers), inventory names and their checks;
- :mod:`.writer`: one inventory written as the backend's pages stream in, published whole
  (a crash mid-create leaves the previous one intact);
- :mod:`.reader`: a page of a listing from an inventory (prefix, delimiter, marker), its
  cost following the page returned, not the inventory's size;
- :mod:`.catalog`: the inventories of each bucket under ``<index_dir>/inventory/``.

Sans-IO apart from the files themselves: the node (``aisfs_node.inventory``) runs these in
worker threads. docs/backends.md, "Inventory".
"""

from aisfs.inventory.catalog import Catalog, InventoryInfo
from aisfs.inventory.names import (
    ACT_CREATE_NBI,
    ACT_DESTROY_NBI,
    ACT_SHOW_NBI,
    HDR_INV_NAME,
    HDR_INVENTORY,
    LS_NBI,
    check_name,
    new_name,
    wants_inventory,
)
from aisfs.inventory.reader import InvEntry, InvPage, list_page, open_reader
from aisfs.inventory.writer import InventoryWriter

__all__ = [
    "ACT_CREATE_NBI",
    "ACT_DESTROY_NBI",
    "ACT_SHOW_NBI",
    "HDR_INVENTORY",
    "HDR_INV_NAME",
    "LS_NBI",
    "Catalog",
    "InvEntry",
    "InvPage",
    "InventoryInfo",
    "InventoryWriter",
    "check_name",
    "list_page",
    "new_name",
    "open_reader",
    "wants_inventory",
]
