"""The application services: every change to tickets, whatever door it came through, goes through here."""
