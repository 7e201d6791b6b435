"""Package data: the rulebook and the report templates (editable by a bank)."""
