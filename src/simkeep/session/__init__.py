"""Server-side sessions for people's pages: the cookie holds a random id, the table holds the rest."""
