"""The programs: one module per console script, each its flags and one library call.
The only place that reads flags (common.py has what they share)."""
