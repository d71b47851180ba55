"""Reads an .xlsx workbook with openpyxl, as a spreadsheet user's program
would, and prints what it holds as JSON: each sheet's title, frozen pane,
whether the header row is bold, and every row's cells with their types."""
import json
import sys

import openpyxl


def main(path):
    workbook = openpyxl.load_workbook(path)
    sheets = []
    for sheet in workbook.worksheets:
        rows = []
        for row in sheet.iter_rows():
            rows.append([{"value": cell.value, "type": type(cell.value).__name__} for cell in row])
        sheets.append({
            "title": sheet.title,
            "freeze": sheet.freeze_panes,
            "header_bold": all(cell.font.b for cell in sheet[1]) if sheet.max_row >= 1 else False,
            "rows": rows,
        })
    json.dump({"sheets": sheets}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
