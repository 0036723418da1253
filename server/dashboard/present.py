"""The pages' way to how values look; the helpers live in `server.services.present`, which the dossier shares."""

from server.services.present import field_label, flag_labels, local_time, masked, percent, show, show_stored

__all__ = ["field_label", "flag_labels", "local_time", "masked", "percent", "show", "show_stored"]
