"""One module per vendor payload shape, each mapping it onto ``SessionRecord``s or
``Rejection``s; ``registry`` names them. A new vendor is a new module here plus one
line in ``registry.py``."""
