"""The database: tables, migrations, sessions, and the only code turning rows into domain objects."""
