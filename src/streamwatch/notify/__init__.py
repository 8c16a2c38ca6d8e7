"""Alert delivery (``streamwatch notify``): alerts from the ``alerts`` topic to the tools teams
already use, a real Alertmanager (its v2 API) and a generic signed webhook.

``alert`` checks a message is an alert; ``alertmanager`` maps an alert to Alertmanager's form
and keeps the book of what Alertmanager was told (pure); ``sinks`` does the HTTP; ``service``
runs the consumer, the re-sends and the metrics.
"""
