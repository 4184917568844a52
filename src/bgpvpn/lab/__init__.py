"""``bgpvpn lab``: declarative network-namespace topologies (hosts, links, BGP daemons, "VM"
namespaces attached to VPNs) for demos and end-to-end tests. See docs/lab.md."""
