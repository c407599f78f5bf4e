"""``python -m transfer_utils``: print the environment report."""

from transfer_utils.report import environment_report

print(environment_report())
