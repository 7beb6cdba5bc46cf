"""Shipped city configurations: `sample_city.yaml` is the sample Pemkot used by default."""
