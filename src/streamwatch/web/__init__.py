"""The web console: pages and a JSON API over the risk view and the topics (``console``)."""
