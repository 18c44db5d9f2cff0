"""deploy/ cannot be run here (no container engine, no cluster), so it is checked as far as it can be:
Kubernetes schemas, the compose topology, and that every setting it passes is one Broadcaster reads."""

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from broadcaster.config import Settings
from broadcaster.production import problems

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KNOWN = {f"BROADCASTER_{name.upper()}" for name in Settings.model_fields}
MAIL_SECRETS = {"BROADCASTER_SENDGRID_API_KEY", "BROADCASTER_SENDGRID_WEBHOOK_PUBLIC_KEY",
                "BROADCASTER_UNSUBSCRIBE_SECRET", "BROADCASTER_UNSUBSCRIBE_PREVIOUS_SECRETS"}


def manifest(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "k8s" / name).read_text())


@pytest.mark.parametrize("path", sorted((DEPLOY / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifests_match_the_api_schema(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_every_setting_in_the_manifests_is_one_broadcaster_reads() -> None:
    for name in ("configmap.yaml", "secret.example.yaml"):
        document = yaml.safe_load((DEPLOY / "k8s" / name).read_text())
        keys = set(document.get("data") or document.get("stringData"))
        assert keys <= KNOWN, keys - KNOWN


@pytest.mark.parametrize("name", ["worker-deployment.yaml", "intake-deployment.yaml"])
def test_the_probes_are_the_health_endpoints(name: str) -> None:
    deployment = next(yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()))
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"


def test_the_intake_api_listens_beyond_loopback_in_its_pods_and_in_compose() -> None:
    deployment, service = yaml.safe_load_all((DEPLOY / "k8s" / "intake-deployment.yaml").read_text())
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["broadcaster", "serve"]
    assert {"name": "BROADCASTER_INTAKE_HOST", "value": "0.0.0.0"} in container["env"]
    assert container["ports"] == [{"name": "http", "containerPort": Settings().intake_port}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    intake = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["intake"]
    assert intake["command"] == ["broadcaster", "serve"] and intake["environment"]["BROADCASTER_INTAKE_HOST"] == "0.0.0.0"
    assert set(intake["environment"]) <= KNOWN


def test_the_workers_get_every_setting_production_mail_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets from the Secret, the public URL from the ConfigMap; as shipped, only the placeholders are refused."""
    config, secret = manifest("configmap.yaml"), manifest("secret.example.yaml")
    assert MAIL_SECRETS <= set(secret["stringData"]) and "BROADCASTER_PUBLIC_URL" in config["data"]
    [container] = manifest("worker-deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert {"configMapRef": {"name": config["metadata"]["name"]}} in container["envFrom"]
    assert {"secretRef": {"name": secret["metadata"]["name"]}} in container["envFrom"]
    for name, value in {**config["data"], **secret["stringData"]}.items():
        monkeypatch.setenv(name, value)
    placeholder_key, short_secret = problems(Settings())  # each placeholder is refused, by name
    assert placeholder_key.startswith("BROADCASTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not a public key")
    assert short_secret.startswith("BROADCASTER_UNSUBSCRIBE_SECRET is shorter than 32 bytes")


def test_compose_passes_the_production_mail_settings_through() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in ("worker-1", "worker-2"):
        environment = services[name]["environment"]
        for variable in MAIL_SECRETS | {"BROADCASTER_PUBLIC_URL"}:
            assert environment[variable].startswith(f"${{{variable}:-"), (name, variable)


def test_compose_runs_three_kraft_brokers_postgres_a_migration_and_two_workers() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    brokers = [s for name, s in services.items() if name.startswith("kafka-")]
    assert len(brokers) == 3
    assert {b["environment"]["KAFKA_PROCESS_ROLES"] for b in brokers} == {"broker,controller"}
    assert len({b["environment"]["KAFKA_NODE_ID"] for b in brokers}) == 3
    workers = [s for name, s in services.items() if name.startswith("worker-")]
    assert len(workers) == 2
    for worker in workers:
        assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert set(worker["environment"]) <= KNOWN
    assert services["migrate"]["command"] == ["broadcaster", "db", "upgrade"]
    assert "postgres" in services


def test_alert_rules_only_use_metrics_the_worker_exports() -> None:
    exported = {"broadcaster_acknowledgement_seconds_bucket", "broadcaster_consumer_lag_seconds",
                "broadcaster_consumer_lag_messages", "broadcaster_emails_total",
                "broadcaster_dead_letters_total", "broadcaster_suspected_incidents", "up",
                "broadcaster_deliveries_troubled", "broadcaster_dead_letters_unwritable_total"}
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        used = set(re.findall(r"\b(broadcaster_\w+|up)\b", rule["expr"]))
        assert used <= exported, (rule["alert"], used - exported)
