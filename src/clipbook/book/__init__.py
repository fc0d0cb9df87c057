"""The book machinery: execute chapters with validated parameters (``runner``), the command line
(``cli``), claims and their verdicts (``claims``), the website (``site``), performance figures
(``bench``)."""
