"""How much of a spreadsheet the import reads, and how long it may take.

A directory file is at most a few tens of thousands of rows of short text. A
file past these limits is refused with a message saying which one, before it
can cost the web process (which also answers the carrier's webhooks) its
memory or its time.
"""

from __future__ import annotations

# Files larger than this are refused unread (the console's upload cap is the same).
MAX_FILE_BYTES = 10 * 1024 * 1024
# Sheet rows, counted as the spreadsheet numbers them; a city's directory is ~33,000.
MAX_ROWS = 60_000
# Columns read per row; cells further right are never built. Ledgers rarely pass 30.
MAX_COLUMNS = 64
# Characters in one cell; a name, a number or an address is far shorter.
MAX_CELL_CHARS = 1_000
# Seconds reading may take before it is abandoned.
MAX_SECONDS = 30

# Merged ranges in one sheet; a ledger merges each village's and group's cells, a few thousand at most.
MAX_MERGED_RANGES = 50_000
# Cells the merged ranges of one sheet cover together, counted within the rows and columns
# read. Ranges Excel or WPS merges never overlap, so they cover no more than the sheet;
# overlapping ones (which only a crafted file has) would make filling them take minutes.
MAX_MERGED_CELLS = MAX_ROWS * MAX_COLUMNS

# An old Excel .xls workbook is read with xlrd, which keeps an object for each format, name and
# external reference the workbook lists, and for each comment, label range and hyperlink (one
# for each cell a hyperlink covers) of the sheet it reads: a few bytes of the file can cost it a
# kilobyte, and one hyperlink over a whole sheet millions of entries. A directory has a few dozen.
MAX_XLS_OBJECTS = 20_000
# Distinct texts of an .xls workbook, all loaded when it is opened; a few for each row.
MAX_XLS_STRINGS = 400_000

# Checked on an .xlsx workbook's zip entries before anything is decompressed.
MAX_ZIP_ENTRIES = 500
# All entries together, decompressed.
MAX_UNCOMPRESSED_BYTES = 128 * 1024 * 1024
# The shared strings are loaded whole before the first row is read.
MAX_SHARED_STRINGS_BYTES = 32 * 1024 * 1024
# A sheet's XML compresses about ten times; a bomb a thousand times or more.
MAX_COMPRESSION_RATIO = 200
# Entries smaller than this are not judged by their ratio (a sheet of blanks compresses well).
RATIO_CHECKED_FROM_BYTES = 1024 * 1024
