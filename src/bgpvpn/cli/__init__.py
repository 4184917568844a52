"""The ``bgpvpn`` command line."""
