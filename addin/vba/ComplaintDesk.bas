Attribute VB_Name = "ComplaintDesk"
' Complaint Desk: ribbon callbacks of the desktop add-in.
' Every button in addin/ribbon/customUI.xml has onAction="OnAction" and a tag
' naming a Python macro in addin/macros.py, so one dispatcher serves them all.
' RunPython is the xlwings module of this add-in; it takes Interpreter_Win and
' PYTHONPATH from the add-in's "complaint-desk.conf" sheet (see docs/addin.md).
Option Explicit

Public Sub OnAction(control As IRibbonControl)
    RunPython "import addin.macros as m; m.run_caller('" & control.Tag & "')"
End Sub
