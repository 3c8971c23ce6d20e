"""The catalog: the questions it answers (as SPARQL pushed down to the store) and its validated write path."""
