"""Run tracking: `metrics.jsonl` is the source of truth; these writers mirror it to dashboards."""

from agentrl.tracking.writers import LOGGERS, MetricWriters, check_logger_names, numeric_metrics, open_writers

__all__ = ["LOGGERS", "MetricWriters", "check_logger_names", "numeric_metrics", "open_writers"]
