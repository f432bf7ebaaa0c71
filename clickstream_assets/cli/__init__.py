"""``clickstream``: the command line, the top layer; it runs the definitions, nothing imports it."""
