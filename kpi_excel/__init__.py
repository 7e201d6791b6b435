"""kpi-excel: score bank account managers' KPI workbooks by the bank's written rules."""

__version__ = "0.1.0"
