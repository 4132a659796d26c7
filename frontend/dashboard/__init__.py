"""The dashboard package: API client, words, charts, forms and pages."""
