"""The four foreign systems a hospital's middleware connects: ERP, supplier network, WMS, AP.

Each emulator is another vendor's system with its own native format and
behaviour; it imports nothing of the rest of supplysync.
"""

SYSTEMS = ("erp", "supplier", "wms", "ap")
"""The emulated systems, in port order (``supplysync serve``: base+1 .. base+4)."""
