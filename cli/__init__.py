"""webhookctl: the command-line interface (click commands as shims over plain functions)."""
