"""Directory import and export: station spreadsheets (CSV or .xlsx) in and out.

The import runs in two steps so a console preview can stop after the first:
:func:`plan_import` reads and validates (writing nothing) and returns a
:class:`Plan` listing every error, warning and intended change;
:func:`apply_plan` writes a valid plan in bulk.
"""

from hotline.directory.columns import Column
from hotline.directory.exporter import ExportError, directory_rows, export_directory
from hotline.directory.importer import ImportRefused, apply_plan, import_sheet, plan_import
from hotline.directory.reader import ReadError, Sheet, SheetRow, read_bytes, read_sheet
from hotline.directory.validate import Action, Issue, Plan

__all__ = [
    "Action",
    "Column",
    "ExportError",
    "ImportRefused",
    "Issue",
    "Plan",
    "ReadError",
    "Sheet",
    "SheetRow",
    "apply_plan",
    "directory_rows",
    "export_directory",
    "import_sheet",
    "plan_import",
    "read_bytes",
    "read_sheet",
]
