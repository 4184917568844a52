"""The vpn layer: IP VPN (VRF) and E-VPN (EVI) instances over the RIB, sans-IO.

``VpnManager`` (``manager.py``) takes intent (``model.py``: ``InstanceSpec``, ``PortAttachment``),
advertises the instances' routes into the RIB (``advertise.py``), imports received routes by
route target and runs each instance's own best path (``imports.py``), and gives the data-plane
drivers the desired state as ``Change`` batches (``bgpvpn.dataplane``). ``instance.py`` holds one
instance, ``allocator.py`` the numbers (index, RD, VNI, router MAC), ``validate.py`` the checks,
``view.py`` what the API shows.
"""
