"""Exporter and agents: what an operator checks when a panel looks wrong."""

from __future__ import annotations

from .layout import dashboard
from .panels import Json, state_timeline, table, target, timeseries
from .promql import AGENT
from .states import AGENT_UP


def build() -> Json:
    agent_sel = f"{{{AGENT}}}"
    panels = [
        state_timeline(
            "Agent up",
            "Whether the exporter's last exchange with each agent succeeded (mtconnect_agent_up).",
            f"max by (agent) (mtconnect_agent_up{agent_sel})",
            "{{agent}}",
            AGENT_UP,
            (0, 0, 24, 5),
        ),
        table(
            "Agents",
            "The agents followed: URL, agent version, schema version and instance id.",
            "string",
            [target(f"mtconnect_agent_info{agent_sel}", instant=True, table=True)],
            (0, 5, 16, 6),
            columns={
                "agent": "Agent",
                "url": "URL",
                "version": "Agent version",
                "schema_version": "Schema",
                "instance_id": "Instance id",
                "sender": "Sender",
            },
            sort_by="agent",
        ),
        table(
            "Exporter build",
            "Version of factorydash and of Python running it.",
            "string",
            [target("factorydash_build_info", instant=True, table=True)],
            (16, 5, 8, 6),
            columns={"version": "factorydash", "python_version": "Python"},
            sort_by="version",
        ),
        timeseries(
            "Agent restarts",
            "Agent restarts seen in each interval (new instanceId or device model change): each one re-probes "
            "the agent.",
            "none",
            [target(f"round(sum by (agent) (increase(mtconnect_agent_restarts_total{agent_sel}[$__rate_interval])))", "{{agent}}")],
            (0, 11, 8, 8),
            bars=True,
            defaults={"decimals": 0},
        ),
        timeseries(
            "Request errors",
            "Failed exchanges with the agents per second, by reason. Empty when no exchange failed.",
            "reqps",
            [
                target(
                    f"sum by (agent, reason) (rate(mtconnect_agent_request_errors_total{agent_sel}[$__rate_interval])) > 0",
                    "{{agent}} {{reason}}",
                )
            ],
            (8, 11, 8, 8),
        ),
        timeseries(
            "Time since last successful exchange",
            "Seconds since the exporter last exchanged successfully with each agent.",
            "s",
            [target(f"time() - mtconnect_agent_last_success_timestamp_seconds{agent_sel}", "{{agent}}")],
            (16, 11, 8, 8),
        ),
        timeseries(
            "Request latency",
            "Median, 90th and 99th percentile of request latency per agent and request kind "
            "(probe, current, sample, stream).",
            "s",
            [
                target(
                    f"histogram_quantile({q}, sum by (agent, request, le) (rate(mtconnect_agent_request_duration_seconds_bucket{agent_sel}[$__rate_interval])))",
                    f"p{round(q * 100)} {{{{agent}}}} {{{{request}}}}",
                    ref=ref,
                )
                for ref, q in (("A", 0.5), ("B", 0.9), ("C", 0.99))
            ],
            (0, 19, 12, 8),
        ),
        timeseries(
            "Sequence lag (share of the agent's buffer)",
            "Observations the agent holds that the exporter has not read yet, as a share of the agent's "
            "buffer: at 100 % observations are lost.",
            "percentunit",
            [
                target(
                    f"mtconnect_agent_sequence_lag{agent_sel} / mtconnect_agent_buffer_size{agent_sel}",
                    "{{agent}}",
                )
            ],
            (12, 19, 12, 8),
            defaults={"min": 0, "max": 1},
        ),
        timeseries(
            "Observations per second",
            "Observations applied per second, per agent.",
            "cps",
            [target(f"sum by (agent) (rate(mtconnect_agent_observations_total{agent_sel}[$__rate_interval]))", "{{agent}}")],
            (0, 27, 12, 8),
        ),
        timeseries(
            "Observations lost",
            "Sequence numbers lost per second to agent buffer overruns (OUT_OF_RANGE): the exporter fell behind "
            "or was down longer than the agent's buffer lasts. Empty when nothing was lost.",
            "cps",
            [
                target(
                    f"sum by (agent) (rate(mtconnect_agent_observations_lost_total{agent_sel}[$__rate_interval])) > 0",
                    "{{agent}}",
                )
            ],
            (12, 27, 12, 8),
        ),
        timeseries(
            "Series per agent",
            "Number of mtconnect_* series each agent's data produces, and series not created because a "
            "series cap was reached (dropped).",
            "short",
            [
                target(f'count by (agent) ({{__name__=~"mtconnect_.+", {AGENT}}})', "{{agent}}", ref="A"),
                target(
                    f"sum by (agent) (rate(mtconnect_series_dropped_total{agent_sel}[$__rate_interval]))",
                    "dropped/s {{agent}}",
                    ref="B",
                ),
            ],
            (0, 35, 12, 8),
        ),
        timeseries(
            "Scrape",
            "Series the exporter exposes per scrape (scrape_samples_scraped) and new series per scrape "
            "(scrape_series_added), for the exporter's scrape job.",
            "short",
            [
                target('scrape_samples_scraped{job=~".*factorydash.*"}', "samples {{instance}}", ref="A"),
                target('scrape_series_added{job=~".*factorydash.*"}', "added {{instance}}", ref="B"),
            ],
            (12, 35, 12, 8),
        ),
    ]
    return dashboard(
        "factorydash-exporter",
        "Exporter and agents",
        "What an operator checks when a panel looks wrong: agents up, restarts, latency, lag, losses, series.",
        "now-6h",
        panels,
    )
