"""bgpvpn: a BGP VPN speaker for Linux hosts (IP VPN and E-VPN over BGP, Linux data plane)."""

__version__ = "0.1.0"
