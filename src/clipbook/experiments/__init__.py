"""One module per chapter: the experiment a chapter runs, as library code with unit tests."""
