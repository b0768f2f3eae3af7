"""X12 interchanges for the supplier link: the sync core's EDI translator.

Theory of operation: an interchange is ISA ... IEA around functional groups
(GS ... GE) around transaction sets (ST ... SE).  ``parse_interchange`` reads the
delimiters from the fixed-width ISA segment, checks every envelope count and
control number, and returns the transaction sets as lists of segments (a
segment is a list of element strings, the segment id first).  What partners
vary is read, not assumed: the element separator is ISA character 4, the
sub-element separator ISA16 and the segment terminator the character after it
(the ISA is fixed width, ASC X12 004010), so ``*``/``|``, ``>``/``:``/``^``
and ``~``/``'``/a newline all read alike, as does a CR/LF after each
terminator; an interchange may hold several groups and a group several sets;
GS08 is not checked (``004010`` and ``004010VICS`` read alike).  The 850 and 860 writers
and the 855 and 865 readers on top translate between those segments and the canonical
model; anything that does not fit raises :class:`MappingError` naming the
segment and element.
"""

from sync_core.mappers.x12._change import (
    ChangeAcknowledgment,
    change_ack_from_865,
    line_changes,
    write_860,
)
from sync_core.mappers.x12._envelope import Envelope, TransactionSet, parse_interchange
from sync_core.mappers.x12._read import (
    acknowledgment_json_from_855,
    acknowledgments_from_855,
    functional_ack_from_997,
    invoice_from_810,
)
from sync_core.mappers.x12._ship_notice import ship_notices_from_856
from sync_core.mappers.x12._write import write_850, write_997
from sync_core.mappers.x12._xref import CrossReference, ItemReference, Party

__all__ = [
    "ChangeAcknowledgment",
    "CrossReference",
    "Envelope",
    "ItemReference",
    "Party",
    "TransactionSet",
    "acknowledgment_json_from_855",
    "acknowledgments_from_855",
    "change_ack_from_865",
    "functional_ack_from_997",
    "invoice_from_810",
    "line_changes",
    "parse_interchange",
    "ship_notices_from_856",
    "write_850",
    "write_860",
    "write_997",
]
