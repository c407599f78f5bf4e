"""Helpers for the course *Calculus in transfer learning*.

Import what you need from the submodule that defines it, for example::

    from transfer_utils.core.device import get_device, device_report
    from transfer_utils.core.seed import seed_everything
    from transfer_utils.core.profile import get_profile
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
