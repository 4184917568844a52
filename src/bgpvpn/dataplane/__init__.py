"""Data-plane drivers: the desired state the vpn layer computes (``model.py``), the driver
interface (``driver.py``), the recording ``dummy`` driver (the default, used by tests) and the
``linux`` driver."""
