"""How values look on the pages: the helpers live in `server.services.present`, shared with the dossier."""

from server.services.present import field_label, flag_labels, local_time, masked, percent, show, show_stored

__all__ = ["field_label", "flag_labels", "local_time", "masked", "percent", "show", "show_stored"]
