Attribute VB_Name = "ComplaintDesk"
' Complaint Desk: ribbon callbacks of the desktop add-in.
' Every button in addin/ribbon/customUI.xml has onAction="OnAction" and a tag
' naming a Python macro in addin/macros.py, so one dispatcher serves them all.
' RunPython is the xlwings module of this add-in; it takes Interpreter_Win and
' PYTHONPATH from the add-in's "complaint-desk.conf" sheet (see docs/addin.md).
' Tags: new_ticket route escalate deescalate | acknowledge plan extension
' resolve feedback close revisit objection cancel check_wording (addin/steps.py)
' | group (addin/group.py) | check_deadlines revisit_list | sync monthly_summary dossier
' | pull_consolidated.
' build_xlam refuses a ribbon whose tags and addin.macros.MACROS differ.
Option Explicit

Public Sub OnAction(control As IRibbonControl)
    RunPython "import addin.macros as m; m.run_caller('" & control.Tag & "')"
End Sub
