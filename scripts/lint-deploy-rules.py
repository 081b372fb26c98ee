"""The rules CUS's deployment files must keep, beyond what the schemas check (run by
scripts/lint-deploy, in its virtualenv). Each failure is printed as `file: what is wrong`."""

import re
import sys
import tomllib
from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
problems: list[str] = []


def fail(where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def known_variables() -> set[str]:
    """Every CUS_… variable the configuration accepts: one per key of config/default.toml,
    plus the *_FILE variables of secrets (config.rs SECRET_FILES)."""
    defaults = tomllib.loads((ROOT / "config/default.toml").read_text())
    names = {"CUS_ENVIRONMENT"}
    for section, keys in defaults.items():
        if isinstance(keys, dict):
            names |= {f"CUS_{section}__{key}".upper() for key in keys}
    config_rs = (ROOT / "crates/cus-server/src/config.rs").read_text()
    names |= set(re.findall(r'"(CUS_[A-Z_]+_FILE)"', config_rs))
    return names


def check_variables() -> None:
    """A misspelt CUS_… variable stops CUS at start: catch it here."""
    known = known_variables()
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for name in re.findall(r"\bCUS_[A-Z][A-Z0-9_]*\b", line):
                if name not in known:
                    fail(f"{path.relative_to(ROOT)}:{number}", f"{name} is no CUS setting")


def check_dockerfile() -> None:
    where = "deploy/Dockerfile"
    parser = DockerfileParser(path=str(DEPLOY / "Dockerfile"))
    stages: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    if len(stages) < 2:
        fail(where, "must be multi-stage: build in one stage, run in a small one")
        return
    final = stages[-1]

    def last(name: str) -> str | None:
        values = [i["value"] for i in final if i["instruction"] == name]
        return values[-1] if values else None

    user = last("USER")
    if user is None or user.split(":")[0] in ("root", "0"):
        fail(where, "the runtime stage must switch to a non-root USER")
    elif not user.split(":")[0].isdigit():
        fail(where, "USER must be numeric, so Kubernetes' runAsNonRoot can check it")
    healthcheck = last("HEALTHCHECK")
    if healthcheck is None or healthcheck.strip().upper() == "NONE":
        fail(where, "the runtime stage must have a HEALTHCHECK")
    if not any(
        i["instruction"] == "COPY" and "--from=" in i["value"] for i in final
    ):
        fail(where, "the runtime stage must copy the binary from the build stage")
    if "cargo" in " ".join(i["value"] for i in final):
        fail(where, "the runtime stage must not build (no cargo in it)")


def load_manifests() -> dict[str, dict]:
    """Kubernetes objects by kind (one of each kind is expected)."""
    objects: dict[str, dict] = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                objects[document["kind"]] = document
    return objects


def check_pod(where: str, pod: dict) -> None:
    security = pod.get("securityContext", {})
    if security.get("runAsNonRoot") is not True or security.get("runAsUser", 0) == 0:
        fail(where, "the pod must run as non-root (runAsNonRoot, runAsUser)")
    for container in pod["containers"]:
        context = container.get("securityContext", {})
        if context.get("readOnlyRootFilesystem") is not True:
            fail(where, f"container {container['name']}: readOnlyRootFilesystem: true")
        if context.get("allowPrivilegeEscalation") is not False:
            fail(where, f"container {container['name']}: allowPrivilegeEscalation: false")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(kind, {}):
                    fail(where, f"container {container['name']}: no {kind}.{resource}")
        for variable in container.get("env", []):
            if variable["name"] in SECRET_SETTINGS:
                fail(where, f"{variable['name']}: give secrets as {variable['name']}_FILE "
                     "from the Secret")


# Settings that carry a password or key: in a pod only as *_FILE, from a mounted Secret.
SECRET_SETTINGS = {
    "CUS_DATABASE__URL",
    "CUS_KEYS__KEK",
    "CUS_OUTBOX__SMTP_URL",
    "CUS_OUTBOX__SMS_WEBHOOK_URL",
}


def memory_mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1 / 1048.576, "M": 1 / 1.048576, "G": 953.674}
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return float(quantity[: -len(unit)]) * factor
    return float(quantity) / 1048576


def check_kubernetes() -> None:
    where = "deploy/kubernetes"
    objects = load_manifests()
    missing = [
        kind
        for kind in ("ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
                     "PodDisruptionBudget", "Job", "NetworkPolicy")
        if kind not in objects
    ]
    if missing:
        fail(where, f"missing: {', '.join(missing)}")
        return
    if "Secret" in objects:
        fail(where, "a Secret is committed: reference one the operator creates")
    config = objects["ConfigMap"]["data"]
    if config.get("CUS_ENVIRONMENT") != "production":
        fail(where, "ConfigMap: CUS_ENVIRONMENT must be production")
    if not yaml.safe_load(config.get("CUS_SERVER__TRUSTED_PROXIES", "[]")):
        fail(where, "ConfigMap: CUS_SERVER__TRUSTED_PROXIES must name the load balancer")
    management = config.get("CUS_SERVER__MANAGEMENT_LISTEN", "")
    if not management:
        fail(where, "ConfigMap: CUS_SERVER__MANAGEMENT_LISTEN must be set (the probes' port)")
        return
    management_port = int(management.rsplit(":", 1)[1])
    public_port = int(config.get("CUS_SERVER__LISTEN", "0:8080").rsplit(":", 1)[1])

    deployment = objects["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    check_pod(f"{where}/deployment.yaml", pod)
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    if container.get("args") != ["serve"]:
        fail(f"{where}/deployment.yaml", "the container must run `cus serve`")
    expected = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for probe, path in expected.items():
        http = container.get(probe, {}).get("httpGet")
        if not http:
            fail(f"{where}/deployment.yaml", f"no HTTP {probe}")
            continue
        port = ports.get(http["port"], http["port"])
        if port != management_port:
            fail(f"{where}/deployment.yaml",
                 f"{probe} must go to the management port {management_port}, not {port}")
        if http["path"] != path:
            fail(f"{where}/deployment.yaml", f"{probe} must ask {path}")
    if ports.get("http") != public_port:
        fail(f"{where}/deployment.yaml", f"port `http` must be {public_port} (CUS_SERVER__LISTEN)")

    # Memory: the process plus every concurrent argon2 hash at hash.memory_kib.
    defaults = tomllib.loads((ROOT / "config/default.toml").read_text())["hash"]
    concurrent = int(config.get("CUS_HASH__MAX_CONCURRENT", defaults["max_concurrent"]))
    kib = int(config.get("CUS_HASH__MEMORY_KIB", defaults["memory_kib"]))
    needed = 100 + concurrent * kib / 1024
    limit = memory_mib(container["resources"]["limits"]["memory"])
    if limit < needed:
        fail(f"{where}/deployment.yaml",
             f"memory limit {limit:.0f} MiB is below 100 MiB + {concurrent} argon2 hashes "
             f"of {kib} KiB ({needed:.0f} MiB)")

    service = objects["Service"]
    for port in service["spec"]["ports"]:
        if ports.get(port["targetPort"], port["targetPort"]) == management_port:
            fail(f"{where}/service.yaml", "the management port must not be in the Service")

    job = objects["Job"]
    job_pod = job["spec"]["template"]["spec"]
    check_pod(f"{where}/job-migrate.yaml", job_pod)
    if job_pod["containers"][0].get("args") != ["migrate"]:
        fail(f"{where}/job-migrate.yaml", "the Job must run `cus migrate`")
    if job_pod["containers"][0]["image"] != container["image"]:
        fail(f"{where}/job-migrate.yaml", "the Job must use the Deployment's image")

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind, selector in (
        ("PodDisruptionBudget", objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]),
        ("Service", service["spec"]["selector"]),
        ("Deployment", deployment["spec"]["selector"]["matchLabels"]),
    ):
        if any(labels.get(k) != v for k, v in selector.items()):
            fail(where, f"the {kind}'s selector does not match the CUS pods")
    if objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] != deployment["metadata"]["name"]:
        fail(f"{where}/hpa.yaml", "scaleTargetRef must name the Deployment")
    if objects["HorizontalPodAutoscaler"]["spec"].get("minReplicas", 1) < 2:
        fail(f"{where}/hpa.yaml", "minReplicas must be at least 2 (the PDB lets one go)")
    # The management port (/metrics, /readyz with backend errors) and the public one are
    # each reachable only from the namespaces the NetworkPolicy names, never from any pod.
    policy = objects["NetworkPolicy"]["spec"]
    if "Ingress" not in policy.get("policyTypes", []):
        fail(f"{where}/networkpolicy.yaml", "the NetworkPolicy must restrict Ingress")
    for rule in policy.get("ingress", []):
        if not rule.get("from"):
            fail(f"{where}/networkpolicy.yaml", "every ingress rule must name who it admits")


def check_compose() -> None:
    where = "deploy/compose.yaml"
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    nodes = [name for name, s in services.items() if s.get("command") == ["serve"]]
    if len(nodes) < 2:
        fail(where, "at least two CUS nodes (command: serve)")
    migrate = [name for name, s in services.items() if s.get("command") == ["migrate"]]
    if len(migrate) != 1:
        fail(where, "one one-shot `migrate` service")
        return
    balancer = [s for s in services.values() if "ipv4_address" in str(s.get("networks"))]
    addresses = {
        n["ipv4_address"] for s in balancer for n in s["networks"].values() if n
    }
    for name in nodes + migrate:
        service = services[name]
        if not service.get("read_only"):
            fail(where, f"{name}: read_only: true")
        proxies = yaml.safe_load(service["environment"].get("CUS_SERVER__TRUSTED_PROXIES", "[]"))
        if not addresses or not addresses <= set(proxies):
            fail(where, f"{name}: CUS_SERVER__TRUSTED_PROXIES must list the balancer ({addresses})")
    for name in nodes:
        condition = services[name].get("depends_on", {}).get(migrate[0], {}).get("condition")
        if condition != "service_completed_successfully":
            fail(where, f"{name} must wait for {migrate[0]} (service_completed_successfully)")


def check_systemd() -> None:
    where = "deploy/cus.service"
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "cus.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    if settings.get("User", ["root"])[0] in ("root", "0"):
        fail(where, "User= must name the unprivileged cus user")
    if not settings.get("StateDirectory"):
        fail(where, "StateDirectory= must give the service its folder")
    if not any(v.endswith(" serve") for v in settings.get("ExecStart", [])):
        fail(where, "ExecStart= must run `cus serve`")
    migrate = (DEPLOY / "cus-migrate.service").read_text()
    for line in (DEPLOY / "cus.service").read_text().splitlines():
        if line.startswith(("EnvironmentFile=", "LoadCredential=", "Environment=", "User=")):
            if line not in migrate.splitlines():
                fail("deploy/cus-migrate.service", f"lacks `{line}` of cus.service")
    user = settings.get("User", [""])[0]
    sysusers = (DEPLOY / "cus.sysusers").read_text()
    if not re.search(rf"^u\s+{re.escape(user)}\s", sysusers, re.M):
        fail("deploy/cus.sysusers", f"must create the user {user} of cus.service")


check_variables()
check_dockerfile()
check_kubernetes()
check_compose()
check_systemd()
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
