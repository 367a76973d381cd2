"""The pipeline steps as jobs, and the scheduler."""
