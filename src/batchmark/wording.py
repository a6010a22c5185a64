"""Wording: the sentences users read, as plain text with a tone; each renderer styles them its own way."""
