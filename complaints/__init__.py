"""Complaint Desk's domain core: the complaint-handling standard as executable rules.

Pure Python (standard library and the holiday calendar): no Flask, xlwings,
openpyxl or APScheduler, and no I/O beyond reading an operator's calendar file.
"""
