"""Branch workbooks with openpyxl and python-calamine: template, reader, writer, zip guard."""
