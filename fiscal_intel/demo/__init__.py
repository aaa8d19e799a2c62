"""Synthetic demo municipality: landing files plus the planted truth to evaluate the pipeline."""

from fiscal_intel.demo.generator import DemoSummary, generate

__all__ = ["DemoSummary", "generate"]
