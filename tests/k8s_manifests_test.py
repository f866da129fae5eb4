"""Renders the Kubernetes manifests (kubectl kustomize, offline) and checks them
against the binaries they run.

Every flag a container passes (in its args or in the flag files of the
ConfigMap it mounts) must be one the binary lists in `--helpfull`, so renaming
a flag breaks this test. Ports in the flags must match the container ports,
the gRPC probes and the Services; brokers must reach their store over
loopback; each overlay must have the shape it promises (dev: one standalone
pod; prod: two name servers, two broker groups of a SYNC_MASTER master and a
SLAVE on different nodes; prod also serves TLS on every port with cert-manager
certificates covering every address a server is dialed at, mutual TLS on the
stores, and starts with real openssl-made certificates in place of them).

Skips only when kubectl is not installed.
"""
import copy
import os
import re
import shutil
import socket
import subprocess
import urllib.request
import unittest

import yaml

import mq_test_support as support

PROGRAMS = {
    "namesrv": "services/namesrv/namesrv",
    "broker": "services/broker/broker",
    "store": "services/store/store",
    "standalone": "services/standalone/standalone",
    "proxy": "services/proxy/proxy",
}
# What $(POD_IP) stands for while checking.
POD_IP = "10.0.0.1"
FLAG = re.compile(r"^--([A-Za-z0-9_]+)=(.*)$")
VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
ROLES = ("ASYNC_MASTER", "SYNC_MASTER", "SLAVE")

_flags_cache = {}


def known_flags(program):
    if program not in _flags_cache:
        _flags_cache[program] = support.binary_flags(support.runfile(PROGRAMS[program]))
    return _flags_cache[program]


def render(overlay):
    """The objects `kubectl kustomize` renders for deploy/k8s/<overlay>."""
    # kustomize refuses files that resolve outside the kustomization root, and
    # runfiles are symlinks: render a dereferenced copy.
    copy_root = os.path.join(support.temp_dir("k8s"), "k8s")
    shutil.copytree(support.runfile("deploy/k8s"), copy_root, symlinks=False)
    result = subprocess.run(
        ["kubectl", "kustomize", os.path.join(copy_root, overlay)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


class Container:
    """One container of a workload, with its flags resolved."""

    def __init__(self, workload, spec, config_maps):
        self.workload = workload
        self.spec = spec
        self.name = f"{workload['metadata']['name']}/{spec['name']}"
        args = spec.get("args") or []
        if spec.get("command"):
            raise AssertionError(f"{self.name}: sets command; the image's entry point must run")
        if not args or args[0] not in PROGRAMS:
            raise AssertionError(f"{self.name}: args must start with one of {sorted(PROGRAMS)}")
        self.program = args[0]
        pod = workload["spec"]["template"]
        self.labels = pod["metadata"].get("labels", {})
        self.env = self._env(spec.get("env", []))
        self.mounts = {m["mountPath"]: m["name"] for m in spec.get("volumeMounts", [])}
        self.volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        self.claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
        # Flag name -> value, later settings overriding earlier ones as absl does.
        self.flags = {}
        for arg in args[1:]:
            name, value = self._parse(arg, f"{self.name} args")
            if name == "flagfile":
                for path in value.split(","):
                    for line in self._flag_file(path, config_maps):
                        flag_name, flag_value = self._parse(line, f"{self.name} {path}")
                        self.flags[flag_name] = flag_value
            else:
                self.flags[name] = value

    def _env(self, entries):
        env = {}
        for entry in entries:
            if "value" in entry:
                env[entry["name"]] = entry["value"]
                continue
            field = entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath", "")
            label = re.fullmatch(r"metadata\.labels\['([^']+)'\]", field)
            if field == "status.podIP":
                env[entry["name"]] = POD_IP
            elif field == "metadata.name":
                # A StatefulSet's first pod.
                env[entry["name"]] = f"{self.workload['metadata']['name']}-0"
            elif label:
                if label.group(1) not in self.labels:
                    raise AssertionError(f"{self.name}: env {entry['name']} reads label "
                                         f"{label.group(1)}, which the pod does not have")
                env[entry["name"]] = self.labels[label.group(1)]
            else:
                raise AssertionError(f"{self.name}: env {entry['name']}: unsupported source {entry}")
        return env

    def _parse(self, text, where):
        def substitute(match):
            if match.group(1) not in self.env:
                raise AssertionError(f"{where}: $({match.group(1)}) is not an env var of the container")
            return self.env[match.group(1)]

        match = FLAG.match(VAR.sub(substitute, text))
        if not match:
            raise AssertionError(f"{where}: '{text}' is not --flag=value")
        return match.group(1), match.group(2)

    def _flag_file(self, path, config_maps):
        directory, file_name = os.path.split(path)
        volume = self.volumes.get(self.mounts.get(directory, ""), {})
        config_map = volume.get("configMap", {}).get("name")
        if config_map is None:
            raise AssertionError(f"{self.name}: --flagfile {path}: no ConfigMap mounted at {directory}")
        data = config_maps.get(config_map, {})
        if file_name not in data:
            raise AssertionError(f"{self.name}: --flagfile {path}: ConfigMap {config_map} has no "
                                 f"key {file_name}")
        lines = [line.strip() for line in data[file_name].splitlines()]
        return [line for line in lines if line and not line.startswith("#")]

    @property
    def port(self):
        return int(self.flags["port"])

    @property
    def tls(self):
        """True when the gRPC port serves TLS only."""
        return self.flags.get("tls_mode", "disabled") == "enforcing"

    def secret_of(self, path):
        """The Secret mounted where `path` is, or None."""
        directory = os.path.dirname(path)
        volume = self.volumes.get(self.mounts.get(directory, ""), {})
        return volume.get("secret", {}).get("secretName")


class Cluster:
    """The rendered objects of one overlay, checked for consistency."""

    def __init__(self, docs):
        self.docs = docs
        self.config_maps = {d["metadata"]["name"]: d.get("data", {})
                            for d in docs if d["kind"] == "ConfigMap"}
        self.workloads = [d for d in docs if d["kind"] in ("StatefulSet", "Deployment")]
        self.services = [d for d in docs if d["kind"] == "Service"]
        self.budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
        self.containers = {}  # workload name -> [Container]
        for workload in self.workloads:
            self.containers[workload["metadata"]["name"]] = [
                Container(workload, spec, self.config_maps)
                for spec in workload["spec"]["template"]["spec"]["containers"]
            ]

    def all_containers(self):
        return [c for containers in self.containers.values() for c in containers]

    def check(self):
        for container in self.all_containers():
            self.check_container(container)
        for workload in self.workloads:
            self.check_workload(workload)
        for service in self.services:
            self.check_service(service)
        self.check_budgets()
        self.check_name_server_lists()
        self.check_replication()
        self.check_tls()

    def check_tls(self):
        """TLS is all or nothing: every server serves it with a certificate
        from a cert-manager Certificate (signed by an Issuer of the overlay)
        naming every address it is dialed at, and dials its peers over it;
        stores require client certificates (only the cluster's own servers
        reach them)."""
        containers = self.all_containers()
        if not any(c.tls for c in containers):
            return
        certificates = {d["spec"]["secretName"]: d for d in self.docs if d["kind"] == "Certificate"}
        issuers = {d["metadata"]["name"]: d for d in self.docs if d["kind"] == "Issuer"}
        for c in containers:
            if not c.tls:
                raise AssertionError(f"{c.name}: --tls_mode={c.flags.get('tls_mode')}; the rest "
                                     "serve TLS only")
            secrets = {c.secret_of(c.flags.get(f"tls_{f}_file", "")) for f in ("cert", "key", "ca")}
            if len(secrets) != 1 or None in secrets:
                raise AssertionError(f"{c.name}: --tls_cert_file, --tls_key_file and --tls_ca_file "
                                     f"must be in one mounted Secret, are in {secrets}")
            secret = secrets.pop()
            certificate = certificates.get(secret)
            if certificate is None:
                raise AssertionError(f"{c.name}: Secret {secret} is no Certificate's secretName")
            issuer = certificate["spec"]["issuerRef"]["name"]
            if certificate["spec"]["issuerRef"].get("kind") != "Issuer" or issuer not in issuers:
                raise AssertionError(f"Certificate {secret}: issuer {issuer} is not in the overlay")
            usages = set(certificate["spec"].get("usages", []))
            if not {"server auth", "client auth"} <= usages:
                raise AssertionError(f"Certificate {secret}: usages {sorted(usages)} must include "
                                     "server auth and client auth (mutual TLS between servers)")
            c.certificate = certificate
            if c.program in ("broker", "store", "proxy") and c.flags.get("peer_tls") != "true":
                if c.program != "store" or c.flags.get("master_address"):
                    raise AssertionError(f"{c.name}: dials its peers without --peer_tls")
            if c.program == "store" and c.flags.get("tls_client_auth") != "require":
                raise AssertionError(f"{c.name}: a store must require client certificates")
        # Every address a server is dialed at, with the certificate served there.
        by_host = {}
        for c in containers:
            spec = c.workload["spec"]
            for i in range(spec.get("replicas", 1)):
                pod = f"{c.workload['metadata']['name']}-{i}.{spec.get('serviceName')}"
                by_host[(pod, c.port)] = c
        for c in containers:
            dialed = []
            if c.program == "proxy":
                # RocketMQ 5 clients dial the proxy's Service.
                for service in self.services:
                    if selects(service["spec"]["selector"], c.labels) and \
                            not certificate_covers(c.certificate, service["metadata"]["name"]):
                        raise AssertionError(f"{c.name}: Certificate "
                                             f"{c.certificate['spec']['secretName']} does not name "
                                             f"its Service {service['metadata']['name']}")
                dialed += [(a, None) for a in c.flags["namesrv_addr"].split(";") if a]
            if c.program == "broker":
                own_store = next(s for s in self.containers[c.workload["metadata"]["name"]]
                                 if s.program == "store")
                dialed += [(a, None) for a in c.flags["namesrv_addr"].split(";") if a]
                dialed.append((c.flags["store_address"], own_store))
                dialed.append((c.flags["advertised_address"], None))
            if c.flags.get("master_address"):
                dialed.append((c.flags["master_address"], None))
            for address, server in dialed:
                host, port = address.rsplit(":", 1)
                if server is None:
                    server = by_host.get((host, int(port)))
                if server is None:
                    raise AssertionError(f"{c.name}: dials {address}, which no server is")
                if not certificate_covers(server.certificate, host):
                    raise AssertionError(f"{c.name}: dials {address}, but Certificate "
                                         f"{server.certificate['spec']['secretName']} does not name "
                                         f"{host}")

    def check_container(self, c):
        unknown = sorted(set(c.flags) - known_flags(c.program))
        if unknown:
            raise AssertionError(f"{c.name}: {c.program} has no flag(s) {unknown}")
        if "port" not in c.flags:
            raise AssertionError(f"{c.name}: no --port (the default may change; state it)")
        listen = c.flags.get("listen_address", "0.0.0.0")
        if listen not in ("0.0.0.0", POD_IP):
            raise AssertionError(f"{c.name}: --listen_address={listen}; probes come from the node")
        ports = [p["containerPort"] for p in c.spec.get("ports", [])]
        metrics_port = int(c.flags.get("metrics_port", "0"))
        expected = [c.port] + ([metrics_port] if metrics_port else [])
        if ports != expected:
            raise AssertionError(f"{c.name}: containerPorts {ports}, but --port={c.port} and "
                                 f"--metrics_port={metrics_port}")
        if not metrics_port:
            raise AssertionError(f"{c.name}: no --metrics_port: Prometheus could not scrape it")
        for probe_kind in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = c.spec.get(probe_kind)
            if probe is None:
                if probe_kind != "startupProbe":
                    raise AssertionError(f"{c.name}: no {probe_kind}")
                continue
            if c.tls:
                # The kubelet's gRPC probes cannot speak TLS.
                http = probe.get("httpGet", {})
                if set(probe) & {"grpc", "tcpSocket", "exec"} or http.get("path") != "/healthz":
                    raise AssertionError(f"{c.name}: {probe_kind} of a TLS port must ask /healthz "
                                         "on the metrics port")
                if http.get("port") != metrics_port:
                    raise AssertionError(f"{c.name}: {probe_kind} port {http.get('port')}, but "
                                         f"--metrics_port={metrics_port}")
                continue
            if set(probe) & {"httpGet", "tcpSocket", "exec"} or "grpc" not in probe:
                raise AssertionError(f"{c.name}: {probe_kind} must be a gRPC health probe")
            if probe["grpc"].get("port") != c.port:
                raise AssertionError(f"{c.name}: {probe_kind} port {probe['grpc'].get('port')}, "
                                     f"but --port={c.port}")
        resources = c.spec.get("resources", {})
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(kind, {}):
                    raise AssertionError(f"{c.name}: no {kind}.{resource}")
        if not c.spec["image"].startswith("mq"):
            raise AssertionError(f"{c.name}: image {c.spec['image']} is not the mq image")
        if "role" in c.flags and c.flags["role"] not in ROLES:
            raise AssertionError(f"{c.name}: --role={c.flags['role']}")
        if c.program in ("store", "standalone"):
            data_dir = c.flags.get("data_dir", "")
            volume = next((name for path, name in c.mounts.items()
                           if data_dir.startswith(path.rstrip("/") + "/")), None)
            if volume not in c.claims:
                raise AssertionError(f"{c.name}: --data_dir={data_dir} is not on a volume claim")
        if c.program in ("broker", "standalone"):
            # Over TLS, the pod's stable name: a certificate cannot name a pod IP.
            pod = f"{c.workload['metadata']['name']}-0.{c.workload['spec'].get('serviceName')}"
            advertised = f"{pod}:{c.port}" if c.tls else f"{POD_IP}:{c.port}"
            if c.flags.get("advertised_address") != advertised:
                raise AssertionError(f"{c.name}: --advertised_address="
                                     f"{c.flags.get('advertised_address')}, must be {advertised}")
            if not c.flags.get("broker_name"):
                raise AssertionError(f"{c.name}: no --broker_name")
        if c.program == "broker":
            self.check_broker(c)

    def check_broker(self, broker):
        stores = [c for c in self.containers[broker.workload["metadata"]["name"]]
                  if c.program == "store"]
        if len(stores) != 1:
            raise AssertionError(f"{broker.name}: the pod must run exactly one store")
        store = stores[0]
        if broker.flags.get("store_address") != f"127.0.0.1:{store.port}":
            raise AssertionError(f"{broker.name}: --store_address must be 127.0.0.1:{store.port} "
                                 "(its store, over loopback)")
        if broker.flags.get("ha_address") != f"{POD_IP}:{store.port}":
            raise AssertionError(f"{broker.name}: --ha_address must be $(POD_IP):{store.port}")
        if broker.flags.get("role") != store.flags.get("role"):
            raise AssertionError(f"{broker.name}: role {broker.flags.get('role')} but its store "
                                 f"has {store.flags.get('role')}")
        for flag in ("broker_name", "broker_id"):
            if broker.flags.get(flag) != store.flags.get(flag):
                raise AssertionError(f"{broker.name}: --{flag}={broker.flags.get(flag)} but its "
                                     f"store has {store.flags.get(flag)}")
        broker_id = int(broker.flags.get("broker_id", "0"))
        if (broker_id == 0) == (broker.flags.get("role") == "SLAVE"):
            raise AssertionError(f"{broker.name}: --broker_id={broker_id} with "
                                 f"--role={broker.flags.get('role')}")

    def check_workload(self, workload):
        name = workload["metadata"]["name"]
        template = workload["spec"]["template"]
        labels = template["metadata"].get("labels", {})
        if not selects(workload["spec"]["selector"].get("matchLabels"), labels):
            raise AssertionError(f"{name}: the selector does not select its own pods")
        security = template["spec"].get("securityContext", {})
        if not security.get("runAsNonRoot") or security.get("runAsUser", 0) == 0:
            raise AssertionError(f"{name}: pods must run as a non-root user")
        # Time to stop: every preStop pause, then the servers' own shutdown grace
        # (in-flight calls), then closing the store, for which 20 s is left.
        pauses = sum(
            float(c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["", "", "0"])[-1])
            for c in template["spec"]["containers"])
        graces = [absl_seconds(c.flags.get("shutdown_grace", "5s")) for c in self.containers[name]]
        needed = pauses + max(graces) + 20
        grace = template["spec"].get("terminationGracePeriodSeconds", 30)
        if grace < needed:
            raise AssertionError(f"{name}: terminationGracePeriodSeconds {grace} < {needed} "
                                 "needed to stop and flush")
        if workload["kind"] == "StatefulSet":
            service = next((s for s in self.services
                            if s["metadata"]["name"] == workload["spec"]["serviceName"]), None)
            if service is None or not selects(service["spec"].get("selector"), labels):
                raise AssertionError(f"{name}: serviceName {workload['spec']['serviceName']} is not "
                                     "a Service selecting its pods")

    def check_service(self, service):
        name = service["metadata"]["name"]
        selected = [w for w in self.workloads
                    if selects(service["spec"].get("selector"), w["spec"]["template"]["metadata"]["labels"])]
        if not selected:
            raise AssertionError(f"Service {name} selects no pods")
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for workload in selected:
                container_ports = [p for c in workload["spec"]["template"]["spec"]["containers"]
                                   for p in c.get("ports", [])]
                if not any(p["containerPort"] == target or p.get("name") == target
                           for p in container_ports):
                    raise AssertionError(f"Service {name} port {port['port']} targets {target}, "
                                         f"which {workload['metadata']['name']} does not serve")

    def check_budgets(self):
        for workload in self.workloads:
            labels = workload["spec"]["template"]["metadata"]["labels"]
            if not any(selects(b["spec"]["selector"].get("matchLabels"), labels) for b in self.budgets):
                raise AssertionError(f"{workload['metadata']['name']}: no PodDisruptionBudget")
        for budget in self.budgets:
            if not any(selects(budget["spec"]["selector"].get("matchLabels"),
                               w["spec"]["template"]["metadata"]["labels"]) for w in self.workloads):
                raise AssertionError(f"PodDisruptionBudget {budget['metadata']['name']} selects no pods")

    def check_name_server_lists(self):
        """A broker registers with every name server pod, by its stable name."""
        namesrvs = [w for w in self.workloads
                    if any(c.program == "namesrv" for c in self.containers[w["metadata"]["name"]])]
        expected = set()
        for workload in namesrvs:
            name = workload["metadata"]["name"]
            port = next(c.port for c in self.containers[name] if c.program == "namesrv")
            if workload["kind"] != "StatefulSet":
                raise AssertionError(f"{name}: brokers need a stable address per name server")
            service = workload["spec"]["serviceName"]
            expected |= {f"{name}-{i}.{service}:{port}" for i in range(workload["spec"]["replicas"])}
        for c in self.all_containers():
            if c.program not in ("broker", "proxy"):
                continue
            listed = set(filter(None, c.flags.get("namesrv_addr", "").split(";")))
            if listed != expected:
                raise AssertionError(f"{c.name}: --namesrv_addr lists {sorted(listed)}, the name "
                                     f"server pods are {sorted(expected)}")

    def check_replication(self):
        """A slave's store replicates from its master's store, by the master pod's name."""
        for name, pods in self.broker_pods().items():
            if 0 not in pods:
                raise AssertionError(f"broker group {name} has no master (--broker_id=0)")
            master, _, master_store = pods[0]
            address = (f"{master['metadata']['name']}-0.{master['spec']['serviceName']}:"
                       f"{master_store.port}")
            if master_store.flags.get("master_address"):
                raise AssertionError(f"{master_store.name}: a master's store has no --master_address")
            for broker_id, (_, _, store) in pods.items():
                if broker_id != 0 and store.flags.get("master_address") != address:
                    raise AssertionError(f"{store.name}: --master_address="
                                         f"{store.flags.get('master_address')}, the master's store "
                                         f"is {address}")

    def broker_pods(self):
        """broker name -> {broker id: (workload, broker container, store container)}."""
        groups = {}
        for name, containers in self.containers.items():
            brokers = [c for c in containers if c.program == "broker"]
            if not brokers:
                continue
            workload = brokers[0].workload
            store = next(c for c in containers if c.program == "store")
            groups.setdefault(brokers[0].flags["broker_name"], {})[
                int(brokers[0].flags.get("broker_id", "0"))] = (workload, brokers[0], store)
        return groups


def certificate_covers(certificate, host):
    """True if the Certificate's names match `host` (a wildcard covers one label)."""
    spec = certificate["spec"]
    if host in spec.get("ipAddresses", []):
        return True
    for name in spec.get("dnsNames", []):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def absl_seconds(duration):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", duration))


def anti_affinity_separates(a, b):
    """True if pod template `a` may never share a node with pods like `b`."""
    terms = (a["spec"]["template"]["spec"].get("affinity", {}).get("podAntiAffinity", {})
             .get("requiredDuringSchedulingIgnoredDuringExecution", []))
    labels = b["spec"]["template"]["metadata"]["labels"]
    return any(t.get("topologyKey") == "kubernetes.io/hostname"
               and selects(t.get("labelSelector", {}).get("matchLabels"), labels) for t in terms)


@unittest.skipIf(shutil.which("kubectl") is None,
                 "kubectl is not installed: cannot render the kustomize overlays")
class ManifestsTest(unittest.TestCase):
    def check_groups(self, cluster, names, master_role):
        groups = cluster.broker_pods()
        self.assertEqual(sorted(groups), sorted(names))
        for name, pods in groups.items():
            self.assertEqual(sorted(pods), [0, 1], f"{name}: a master (id 0) and a slave (id 1)")
            master, slave = pods[0], pods[1]
            for container in (master[1], master[2]):
                self.assertEqual(container.flags["role"], master_role, container.name)
            for container in (slave[1], slave[2]):
                self.assertEqual(container.flags["role"], "SLAVE", container.name)
            self.assertEqual(slave[1].flags["broker_id"], "1")
            self.assertIsNot(master[0], slave[0], f"{name}: master and slave in separate pods")
            self.assertTrue(anti_affinity_separates(master[0], slave[0]),
                            f"{name}: the master's anti-affinity must keep the slave off its node")
            self.assertTrue(anti_affinity_separates(slave[0], master[0]),
                            f"{name}: the slave's anti-affinity must keep the master off its node")

    def namesrv_replicas(self, cluster):
        return sum(w["spec"]["replicas"] for w in cluster.workloads
                   if cluster.containers[w["metadata"]["name"]][0].program == "namesrv")

    def test_monitoring_scrapes_every_metrics_port(self):
        """The ServiceMonitor's endpoints name the Services' metrics ports,
        and those reach every server's --metrics_port in base and standalone."""
        monitoring = render("monitoring")
        monitor = next(d for d in monitoring if d["kind"] == "ServiceMonitor")
        endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        selected_names = set(monitor["spec"]["selector"]["matchExpressions"][0]["values"])
        kinds = {d["kind"] for d in monitoring}
        self.assertEqual(kinds, {"ServiceMonitor", "ConfigMap"})
        for overlay in ("base", "standalone"):
            cluster = Cluster(render(overlay))
            for container in cluster.all_containers():
                metrics_port = int(container.flags["metrics_port"])
                service_ports = [
                    p for svc in cluster.services
                    if svc["metadata"]["labels"].get("app.kubernetes.io/name") in selected_names
                    and selects(svc["spec"]["selector"], container.labels)
                    for p in svc["spec"]["ports"] if p.get("targetPort") == metrics_port]
                self.assertTrue(service_ports, f"{container.name}: no Service port for metrics")
                self.assertTrue(any(p["name"] in endpoint_ports for p in service_ports),
                                f"{container.name}: its metrics port is not scraped")

    def test_base(self):
        cluster = Cluster(render("base"))
        cluster.check()
        self.assertEqual(self.namesrv_replicas(cluster), 2)
        self.check_groups(cluster, ["broker-a"], "ASYNC_MASTER")
        self.check_proxy(cluster)

    def check_proxy(self, cluster):
        """The RocketMQ 5 proxy: a Deployment of more than one pod behind a
        load-balanced (not headless) Service on its gRPC port."""
        proxies = [c for c in cluster.all_containers() if c.program == "proxy"]
        self.assertEqual(len(proxies), 1, "one proxy container")
        proxy = proxies[0]
        self.assertEqual(proxy.workload["kind"], "Deployment")
        self.assertGreaterEqual(proxy.workload["spec"]["replicas"], 2)
        services = [s for s in cluster.services if selects(s["spec"]["selector"], proxy.labels)]
        self.assertEqual(len(services), 1, "one Service selects the proxy pods")
        self.assertNotEqual(services[0]["spec"].get("clusterIP"), "None")
        self.assertIn(proxy.port, [p["port"] for p in services[0]["spec"]["ports"]])
        self.assertEqual(int(proxy.flags["max_body_size"]),
                         int(next(c for c in cluster.all_containers()
                                  if c.program == "broker").flags["max_message_size"]),
                         "the proxy advertises the brokers' max message size")

    def test_prod(self):
        docs = render("overlays/prod")
        self.assertTrue(all(d["metadata"].get("namespace") == "mq" for d in docs))
        cluster = Cluster(docs)
        cluster.check()
        self.assertEqual(self.namesrv_replicas(cluster), 2)
        self.check_groups(cluster, ["broker-a", "broker-b"], "SYNC_MASTER")
        self.check_proxy(cluster)
        self.assertTrue(all(c.tls for c in cluster.all_containers()), "prod serves TLS only")

    def test_dev(self):
        docs = render("overlays/dev")
        self.assertTrue(all(d["metadata"].get("namespace") == "mq-dev" for d in docs))
        cluster = Cluster(docs)
        cluster.check()
        self.assertEqual(len(cluster.workloads), 1)
        workload = cluster.workloads[0]
        self.assertEqual(workload["spec"]["replicas"], 1)
        self.assertEqual([c.program for c in cluster.all_containers()], ["standalone"])

    # The flags must also be accepted by the programs (values, combinations):
    # start them with the rendered flags, changing only addresses, ports and
    # data directories to local ones.

    def start(self, container, overrides):
        """Starts `container`'s program with its flags, on free loopback ports
        (gRPC and metrics); its /healthz must answer."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            metrics_port = s.getsockname()[1]
        flags = dict(container.flags, listen_address="127.0.0.1", port="0",
                     metrics_port=str(metrics_port))
        if container.program in ("store", "standalone"):
            flags["data_dir"] = support.temp_dir(container.program)
        if container.tls:
            flags.update(self.tls_files())
        flags.update(overrides)
        server = support.ServerProcess(support.runfile(PROGRAMS[container.program]),
                                       [f"--{name}={value}" for name, value in flags.items()])
        self.servers.append((container.name, server))
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=10) as r:
            self.assertEqual(r.status, 200, f"{container.name}: /healthz")
        return server

    def tls_files(self):
        """openssl-made stand-ins for the cert-manager secret: a CA and a
        certificate it signed for 127.0.0.1, for servers and clients."""
        if getattr(self, "_tls_files", None) is None:
            directory = support.temp_dir("tls")
            config = os.path.join(directory, "openssl.cnf")
            with open(config, "w") as f:
                f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = mq\n"
                        "[ca]\nbasicConstraints = critical,CA:TRUE\n"
                        "keyUsage = critical,keyCertSign,cRLSign\n"
                        "[leaf]\nextendedKeyUsage = serverAuth,clientAuth\n"
                        "subjectAltName = DNS:localhost,IP:127.0.0.1\n")
            path = lambda name: os.path.join(directory, name)
            for args in (
                ["req", "-x509", "-config", config, "-extensions", "ca", "-newkey", "ec",
                 "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("ca.key"),
                 "-out", path("ca.crt"), "-days", "3650", "-subj", "/CN=mq-ca"],
                ["req", "-new", "-config", config, "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path("tls.key"), "-out",
                 path("tls.csr"), "-subj", "/CN=mq-server"],
                ["x509", "-req", "-in", path("tls.csr"), "-CA", path("ca.crt"), "-CAkey",
                 path("ca.key"), "-CAcreateserial", "-days", "3650", "-extfile", config,
                 "-extensions", "leaf", "-out", path("tls.crt")]):
                subprocess.run(["openssl"] + args, check=True, capture_output=True, timeout=60)
            self._tls_files = {"tls_cert_file": path("tls.crt"), "tls_key_file": path("tls.key"),
                               "tls_ca_file": path("ca.crt")}
        return self._tls_files

    def stop_servers(self):
        # The newest first: slaves before the master they replicate from.
        for name, server in reversed(self.servers):
            self.assertEqual(server.stop(), 0, f"{name} did not stop cleanly")

    def test_prod_flags_start_a_broker_group(self):
        cluster = Cluster(render("overlays/prod"))
        group = cluster.broker_pods()["broker-a"]
        namesrv = next(c for c in cluster.all_containers() if c.program == "namesrv")
        self.servers = []
        self.addCleanup(self.stop_servers)
        name_server = self.start(namesrv, {})
        stores = {}
        for broker_id in sorted(group):  # the master first
            _, broker, store = group[broker_id]
            store_overrides = {}
            if broker_id != 0:
                store_overrides["master_address"] = stores[0].address
            stores[broker_id] = self.start(store, store_overrides)
            self.start(broker, {
                "store_address": stores[broker_id].address,
                "ha_address": stores[broker_id].address,
                "namesrv_addr": name_server.address,
                "advertised_address": f"127.0.0.1:{10911 + broker_id}",
            })

    def test_prod_flags_start_the_proxy(self):
        cluster = Cluster(render("overlays/prod"))
        namesrv = next(c for c in cluster.all_containers() if c.program == "namesrv")
        proxy = next(c for c in cluster.all_containers() if c.program == "proxy")
        self.servers = []
        self.addCleanup(self.stop_servers)
        name_server = self.start(namesrv, {})
        self.start(proxy, {"namesrv_addr": name_server.address})

    def test_dev_flags_start_the_standalone_server(self):
        cluster = Cluster(render("overlays/dev"))
        self.servers = []
        self.addCleanup(self.stop_servers)
        self.start(cluster.all_containers()[0], {"advertised_address": "127.0.0.1:9876"})

    # The checks themselves must catch what they are for.

    def mutated_prod(self, mutate):
        docs = copy.deepcopy(render("overlays/prod"))
        mutate(docs)
        with self.assertRaises(AssertionError) as caught:
            Cluster(docs).check()
        return str(caught.exception)

    def test_a_renamed_flag_in_args_is_caught(self):
        def rename(docs):
            broker = next(c for d in docs if d["kind"] == "StatefulSet"
                          for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "broker")
            broker["args"] = [a.replace("--broker_id=", "--brokerid=") for a in broker["args"]]
        self.assertIn("brokerid", self.mutated_prod(rename))

    def test_a_renamed_flag_in_a_flag_file_is_caught(self):
        def rename(docs):
            config_map = next(d for d in docs if d["kind"] == "ConfigMap")
            config_map["data"]["store.flags"] = config_map["data"]["store.flags"].replace(
                "--flush_disk_type=", "--flush_type=")
        self.assertIn("flush_type", self.mutated_prod(rename))

    def test_a_certificate_missing_an_address_is_caught(self):
        def drop(docs):
            certificate = next(d for d in docs if d["kind"] == "Certificate"
                               and d["spec"]["secretName"] == "mq-server-tls")
            certificate["spec"]["dnsNames"].remove("*.namesrv")
        self.assertIn("does not name namesrv-0.namesrv", self.mutated_prod(drop))

    def test_a_certificate_missing_the_proxy_service_is_caught(self):
        def drop(docs):
            certificate = next(d for d in docs if d["kind"] == "Certificate"
                               and d["spec"]["secretName"] == "mq-server-tls")
            certificate["spec"]["dnsNames"].remove("proxy")
        self.assertIn("does not name its Service proxy", self.mutated_prod(drop))

    def test_a_grpc_probe_on_a_tls_port_is_caught(self):
        def probe(docs):
            store = next(c for d in docs if d["kind"] == "StatefulSet"
                         for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "store")
            store["readinessProbe"] = {"grpc": {"port": 10912}}
        self.assertIn("must ask /healthz", self.mutated_prod(probe))

    def test_a_store_not_requiring_client_certificates_is_caught(self):
        def relax(docs):
            config_map = next(d for d in docs if d["kind"] == "ConfigMap")
            config_map["data"]["store-tls.flags"] = "--tls_client_auth=request\n"
        self.assertIn("must require client certificates", self.mutated_prod(relax))

    def test_a_probe_on_another_port_is_caught(self):
        def move(docs):
            store = next(c for d in docs if d["kind"] == "StatefulSet"
                         for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "store")
            store["readinessProbe"]["httpGet"]["port"] = 10921
        self.assertIn("readinessProbe", self.mutated_prod(move))
