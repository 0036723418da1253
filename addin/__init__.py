"""Complaint Desk in Excel: xlwings macros, the ribbon add-in and the Office.js add-in."""
