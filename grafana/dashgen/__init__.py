"""The factorydash dashboards as code: shared builders and one module per dashboard.

- `states`: the closed MTConnect vocabularies and their colours in timelines;
- `promql`: selectors and query building blocks every dashboard shares;
- `panels`: Grafana panel builders (stat, timeseries, table, ...);
- `layout`: the dashboard skeleton (variables, links, time);
- `rules`: what the dashboards read from the Prometheus rules (the OEE target);
- `overview`, `oee`, `machine`, `alarms`, `exporter`: one dashboard each, a `build()` returning its model.

`grafana/generate_dashboards.py` writes them to grafana/dashboards/*.json.
"""
