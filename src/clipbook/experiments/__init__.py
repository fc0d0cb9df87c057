"""One module per chapter: its sweep, tables and claim statistics, as library code with unit tests.

An experiment composes what the rest of the library provides and imports no other chapter's
module: whatever a second chapter could use belongs in ``data``, ``learners``, ``training`` or
``evaluate``."""
