"""E-signatures: re-authenticated, with a meaning, bound to a hash of the record signed."""
