//! The deployment files against the real binary. Every bazaar container in `k8s/` and
//! `deploy/compose.yaml` is run as `bazaar <its arguments> --print-config` with the
//! environment it would get (the image's `ENV`, then ConfigMaps and Secrets, then its own
//! variables), and nothing else: an unknown `BAZAAR_*` variable or a malformed value fails
//! it. The printed configuration is then held against what the manifests declare: container
//! ports, Service target ports and probes against the addresses the target listens on, the
//! gateway's results URL against the results Service, the worker's module cache against its
//! writable volumes, KEDA's queue against the worker's queue names, the webhooks service's
//! NetworkPolicy against its database and the private networks it must not reach.
//!
//! Schemas and security policies are `scripts/check-deploy.sh`'s job.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

/// The image every bazaar container runs; other containers (PostgreSQL, …) are not ours.
const IMAGE: &str = "ghcr.io/bazaar/bazaar";

type Environment = BTreeMap<String, String>;

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `bazaar <arguments> --print-config` with exactly `environment`: the configuration it
/// prints, or what it said on stderr.
fn print_config(arguments: &[String], environment: &Environment) -> Result<Json, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .args(arguments)
        .arg("--print-config")
        .env_clear()
        .envs(environment)
        .output()
        .expect("failed to run the bazaar binary");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&output.stdout).expect("--print-config prints JSON"))
}

/// Every YAML document in `path`, with `<<` merge keys applied (as Compose applies them).
fn yaml_documents(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("failed to read {}: {error}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|document| {
            let mut value = Yaml::deserialize(document)
                .unwrap_or_else(|error| panic!("{} is not YAML: {error}", path.display()));
            value
                .apply_merge()
                .unwrap_or_else(|error| panic!("{}: bad merge key: {error}", path.display()));
            value
        })
        .filter(|value| !value.is_null())
        .collect()
}

/// The value at a dotted path of mapping keys, if there is one.
fn at<'a>(value: &'a Yaml, path: &str) -> Option<&'a Yaml> {
    path.split('.').try_fold(value, |value, key| value.get(key))
}

fn text(value: &Yaml) -> String {
    match value {
        Yaml::String(text) => text.clone(),
        Yaml::Number(number) => number.to_string(),
        Yaml::Bool(flag) => flag.to_string(),
        Yaml::Null => String::new(),
        other => panic!("expected a scalar, found {other:?}"),
    }
}

fn text_at(value: &Yaml, path: &str) -> String {
    text(at(value, path).unwrap_or_else(|| panic!("no `{path}` in {value:?}")))
}

fn sequence_at<'a>(value: &'a Yaml, path: &str) -> &'a [Yaml] {
    at(value, path)
        .and_then(Yaml::as_sequence)
        .map_or(&[], Vec::as_slice)
}

fn strings(values: &[Yaml]) -> Vec<String> {
    values.iter().map(text).collect()
}

/// The runtime stage of deploy/Dockerfile: its `ENV`, `USER` and `EXPOSE`.
struct Image {
    environment: Environment,
    user: String,
    exposed_ports: BTreeSet<u16>,
}

fn image() -> Image {
    let dockerfile = std::fs::read_to_string(repository_root().join("deploy/Dockerfile"))
        .expect("failed to read deploy/Dockerfile");
    // Instructions with their continuation lines joined, comments dropped.
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(continued) => current.push_str(continued),
            None => {
                current.push_str(line);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    let runtime_stage = instructions
        .iter()
        .rposition(|instruction| instruction.starts_with("FROM "))
        .expect("deploy/Dockerfile has a FROM");
    let mut image = Image {
        environment: Environment::new(),
        user: String::new(),
        exposed_ports: BTreeSet::new(),
    };
    for instruction in &instructions[runtime_stage..] {
        let (keyword, rest) = instruction.split_once(' ').unwrap_or((instruction, ""));
        match keyword {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (key, value) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("ENV takes KEY=VALUE here, not {pair}"));
                    image.environment.insert(key.to_owned(), value.to_owned());
                }
            }
            "USER" => image.user = rest.trim().to_owned(),
            "EXPOSE" => image.exposed_ports.extend(
                rest.split_whitespace()
                    .map(|port| port.parse::<u16>().unwrap()),
            ),
            _ => {}
        }
    }
    image
}

/// The address a configuration listens on for `section` (`http`, `results`, `ops`).
fn listen(config: &Json, section: &str) -> SocketAddr {
    config[section]["listen"]
        .as_str()
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("no {section}.listen in {config}"))
}

fn target(config: &Json) -> &str {
    config["target"]
        .as_str()
        .expect("the configuration names its target")
}

/// What a target serves, by role: its own protocol, and where /healthz and /readyz are.
struct Listeners {
    /// Every port the process listens on.
    ports: BTreeSet<u16>,
    /// The port of /healthz, /readyz and /metrics.
    health: u16,
}

/// What the process of `config` listens on; each listener must take connections from other
/// hosts (probes and Services reach the pod on its IP, Compose services on theirs).
fn listeners(config: &Json) -> Listeners {
    let sections: &[&str] = match target(config) {
        "gateway" => &["http"],
        "results" => &["results", "ops"],
        "worker" | "webhooks" => &["ops"],
        other => panic!("a deployed container runs one service, not `{other}`"),
    };
    for section in sections {
        let address = listen(config, section);
        assert!(
            address.ip().is_unspecified(),
            "the {} target listens on {address} ({section}.listen), which other hosts cannot reach",
            target(config)
        );
    }
    let health_section = if target(config) == "gateway" {
        "http"
    } else {
        "ops"
    };
    Listeners {
        ports: sections
            .iter()
            .map(|section| listen(config, section).port())
            .collect(),
        health: listen(config, health_section).port(),
    }
}

/// `http://host:port` → (host, port).
fn host_and_port(url: &str) -> (String, u16) {
    let authority = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("{url} is not http://host:port"))
        .trim_end_matches('/');
    let (host, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{url} names no port"));
    (host.to_owned(), port.parse().unwrap())
}

// ---------------------------------------------------------------------------------------
// Kubernetes

/// Every resource under k8s/ except the kustomizations.
struct Manifests {
    resources: Vec<Yaml>,
}

impl Manifests {
    fn load() -> Self {
        fn collect(directory: &Path, files: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(directory).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    collect(&path, files);
                } else if path
                    .extension()
                    .is_some_and(|extension| extension == "yaml")
                {
                    files.push(path);
                }
            }
        }
        let mut files = Vec::new();
        collect(&repository_root().join("k8s"), &mut files);
        files.sort();
        let resources = files
            .iter()
            .flat_map(|file| yaml_documents(file))
            .filter(|resource| text_at(resource, "kind") != "Kustomization")
            .collect();
        Manifests { resources }
    }

    fn of_kind(&self, kind: &str) -> Vec<&Yaml> {
        self.resources
            .iter()
            .filter(|resource| text_at(resource, "kind") == kind)
            .collect()
    }

    fn named(&self, kind: &str, name: &str) -> Option<&Yaml> {
        self.of_kind(kind)
            .into_iter()
            .find(|resource| text_at(resource, "metadata.name") == name)
    }

    /// The value of `key` in the ConfigMap or Secret `name`, if both exist.
    fn value(&self, kind: &str, name: &str, key: &str) -> Option<String> {
        self.named(kind, name)?;
        self.entries(kind, name).remove(key)
    }

    /// The entries of the ConfigMap or Secret `name`.
    fn entries(&self, kind: &str, name: &str) -> Environment {
        let resource = self
            .named(kind, name)
            .unwrap_or_else(|| panic!("no {kind} {name}"));
        let section = if kind == "Secret" {
            assert!(
                at(resource, "data").is_none(),
                "Secret {name}: this test reads `stringData`, not base64 `data`"
            );
            "stringData"
        } else {
            "data"
        };
        at(resource, section)
            .and_then(Yaml::as_mapping)
            .into_iter()
            .flatten()
            .map(|(key, value)| (text(key), text(value)))
            .collect()
    }

    /// Every bazaar container of every Deployment, with its configuration.
    fn bazaar_containers(&self) -> Vec<KubernetesContainer<'_>> {
        let image = image();
        let mut found = Vec::new();
        for deployment in self.of_kind("Deployment") {
            let pod = at(deployment, "spec.template").expect("a Deployment has a pod template");
            for container in sequence_at(pod, "spec.containers") {
                if !text_at(container, "image").starts_with(IMAGE) {
                    continue;
                }
                let name = format!(
                    "Deployment {} container {}",
                    text_at(deployment, "metadata.name"),
                    text_at(container, "name")
                );
                assert!(
                    at(container, "command").is_none(),
                    "{name}: `command` would replace the image's entrypoint; use `args`"
                );
                let arguments = strings(sequence_at(container, "args"));
                let environment = self.environment(&image, container);
                let config = print_config(&arguments, &environment).unwrap_or_else(|error| {
                    panic!("{name}: bazaar {arguments:?} --print-config failed: {error}")
                });
                found.push(KubernetesContainer {
                    name,
                    deployment,
                    pod,
                    container,
                    config,
                });
            }
        }
        found
    }

    /// What a container's process sees: the image's ENV, then `envFrom` in order, then `env`.
    fn environment(&self, image: &Image, container: &Yaml) -> Environment {
        let mut environment = image.environment.clone();
        for source in sequence_at(container, "envFrom") {
            let (kind, reference) = match (at(source, "configMapRef"), at(source, "secretRef")) {
                (Some(reference), None) => ("ConfigMap", reference),
                (None, Some(reference)) => ("Secret", reference),
                _ => panic!("an envFrom entry names one ConfigMap or Secret: {source:?}"),
            };
            let prefix = at(source, "prefix").map(text).unwrap_or_default();
            for (key, value) in self.entries(kind, &text_at(reference, "name")) {
                environment.insert(format!("{prefix}{key}"), value);
            }
        }
        for variable in sequence_at(container, "env") {
            let name = text_at(variable, "name");
            let value = if let Some(value) = at(variable, "value") {
                text(value)
            } else if let Some(reference) = at(variable, "valueFrom.configMapKeyRef") {
                self.value(
                    "ConfigMap",
                    &text_at(reference, "name"),
                    &text_at(reference, "key"),
                )
                .unwrap_or_else(|| panic!("{name}: no such ConfigMap key {reference:?}"))
            } else if let Some(reference) = at(variable, "valueFrom.secretKeyRef") {
                self.value(
                    "Secret",
                    &text_at(reference, "name"),
                    &text_at(reference, "key"),
                )
                .unwrap_or_else(|| panic!("{name}: no such Secret key {reference:?}"))
            } else {
                panic!("{name}: this test resolves value, configMapKeyRef and secretKeyRef only")
            };
            environment.insert(name, value);
        }
        environment
    }

    /// The Services whose selector picks the pods of `pod` (a pod template).
    fn services_selecting(&self, pod: &Yaml) -> Vec<&Yaml> {
        self.of_kind("Service")
            .into_iter()
            .filter(|service| {
                at(service, "spec.selector").is_some_and(|selector| selects(selector, pod))
            })
            .collect()
    }
}

/// Whether a label selector (a mapping of labels) picks the pods of `pod`, a pod template.
fn selects(selector: &Yaml, pod: &Yaml) -> bool {
    let labels = at(pod, "metadata.labels");
    selector.as_mapping().is_some_and(|selector| {
        selector
            .iter()
            .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value))
    })
}

struct KubernetesContainer<'a> {
    /// For messages: which Deployment and container.
    name: String,
    deployment: &'a Yaml,
    pod: &'a Yaml,
    container: &'a Yaml,
    config: Json,
}

impl KubernetesContainer<'_> {
    /// The port a probe or Service `targetPort` means: a number, or a container port's name.
    fn resolve_port(&self, port: &Yaml) -> u16 {
        if let Some(number) = port.as_u64() {
            return u16::try_from(number).unwrap();
        }
        let name = text(port);
        sequence_at(self.container, "ports")
            .iter()
            .find(|declared| at(declared, "name").map(text).as_deref() == Some(name.as_str()))
            .map(|declared| text_at(declared, "containerPort").parse().unwrap())
            .unwrap_or_else(|| panic!("{}: no container port named {name}", self.name))
    }

    fn container_ports(&self) -> BTreeSet<u16> {
        sequence_at(self.container, "ports")
            .iter()
            .map(|port| text_at(port, "containerPort").parse().unwrap())
            .collect()
    }
}

fn by_target<'a, 'b>(
    containers: &'b [KubernetesContainer<'a>],
    wanted: &str,
) -> &'b KubernetesContainer<'a> {
    let mut matching = containers
        .iter()
        .filter(|container| target(&container.config) == wanted);
    let found = matching
        .next()
        .unwrap_or_else(|| panic!("no Deployment runs --target {wanted}"));
    assert!(
        matching.next().is_none(),
        "two Deployments run --target {wanted}"
    );
    found
}

#[test]
fn the_binary_accepts_each_kubernetes_container_and_it_runs_one_service() {
    let manifests = Manifests::load();
    let containers = manifests.bazaar_containers();
    let targets: BTreeSet<&str> = containers
        .iter()
        .map(|container| target(&container.config))
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from(["gateway", "results", "webhooks", "worker"])
    );
    for container in &containers {
        assert_eq!(
            text_at(container.container, "image"),
            format!("{IMAGE}:0.1.0"),
            "{}: a pinned release",
            container.name
        );
    }
}

#[test]
fn kubernetes_ports_and_probes_match_what_each_target_listens_on() {
    let manifests = Manifests::load();
    for container in &manifests.bazaar_containers() {
        let name = &container.name;
        let listeners = listeners(&container.config);
        assert_eq!(
            container.container_ports(),
            listeners.ports,
            "{name}: containerPorts against the ports {} listens on",
            target(&container.config)
        );
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let probe_get = at(container.container, &format!("{probe}.httpGet"))
                .unwrap_or_else(|| panic!("{name}: no {probe} with httpGet"));
            assert_eq!(text_at(probe_get, "path"), path, "{name}: {probe}");
            let port = container.resolve_port(at(probe_get, "port").unwrap());
            assert_eq!(port, listeners.health, "{name}: {probe} port");
        }
        if let Some(startup) = at(container.container, "startupProbe.httpGet") {
            assert!(["/healthz", "/readyz"].contains(&text_at(startup, "path").as_str()));
            assert_eq!(
                container.resolve_port(at(startup, "port").unwrap()),
                listeners.health
            );
        }
        let services = manifests.services_selecting(container.pod);
        assert!(!services.is_empty(), "{name}: no Service selects its pods");
        let mut served = BTreeSet::new();
        for service in services {
            for port in sequence_at(service, "spec.ports") {
                let target_port = at(port, "targetPort").or_else(|| at(port, "port")).unwrap();
                let resolved = container.resolve_port(target_port);
                assert!(
                    listeners.ports.contains(&resolved),
                    "{name}: Service {} sends port {} to {resolved}, where nothing listens",
                    text_at(service, "metadata.name"),
                    text_at(port, "port")
                );
                served.insert(resolved);
            }
        }
        assert_eq!(
            served, listeners.ports,
            "{name}: a listener no Service exposes"
        );
    }
}

#[test]
fn the_gateway_finds_the_results_service_through_its_kubernetes_service() {
    let manifests = Manifests::load();
    let containers = manifests.bazaar_containers();
    let gateway = by_target(&containers, "gateway");
    let results = by_target(&containers, "results");
    let url = gateway.config["results"]["url"]
        .as_str()
        .expect("the gateway has results.url");
    let (host, port) = host_and_port(url);
    // `name`, `name.namespace` or `name.namespace.svc…` all name the Service `name`.
    let service_name = host.split('.').next().unwrap();
    let service = manifests
        .named("Service", service_name)
        .unwrap_or_else(|| panic!("results.url {url}: no Service {service_name}"));
    assert!(
        manifests
            .services_selecting(results.pod)
            .into_iter()
            .any(|selecting| std::ptr::eq(selecting, service)),
        "Service {service_name} does not select the results pods"
    );
    let service_port = sequence_at(service, "spec.ports")
        .iter()
        .find(|declared| text_at(declared, "port") == port.to_string())
        .unwrap_or_else(|| panic!("results.url {url}: Service {service_name} has no port {port}"));
    assert_eq!(
        results.resolve_port(at(service_port, "targetPort").unwrap()),
        listen(&results.config, "results").port(),
        "results.url {url} does not reach results.listen"
    );
}

#[test]
fn the_worker_module_cache_is_a_private_subdirectory_of_a_writable_volume() {
    let manifests = Manifests::load();
    for container in &manifests.bazaar_containers() {
        let read_only = at(
            container.container,
            "securityContext.readOnlyRootFilesystem",
        )
        .and_then(Yaml::as_bool)
        .unwrap_or(false);
        assert!(
            read_only,
            "{}: the root filesystem is read-only",
            container.name
        );
        if target(&container.config) != "worker" {
            continue;
        }
        // Where the worker writes compiled modules: sandbox.cache_dir, else data_dir/compiled.
        let cache = match container.config["sandbox"]["cache_dir"].as_str() {
            Some(directory) => PathBuf::from(directory),
            None => Path::new(container.config["data_dir"].as_str().unwrap()).join("compiled"),
        };
        let empty_dirs: BTreeSet<String> = sequence_at(container.pod, "spec.volumes")
            .iter()
            .filter(|volume| at(volume, "emptyDir").is_some())
            .map(|volume| text_at(volume, "name"))
            .collect();
        let mount = sequence_at(container.container, "volumeMounts")
            .iter()
            .filter(|mount| empty_dirs.contains(&text_at(mount, "name")))
            .map(|mount| PathBuf::from(text_at(mount, "mountPath")))
            .find(|mount_path| cache.starts_with(mount_path))
            .unwrap_or_else(|| {
                panic!(
                    "{}: the module cache {} is on no emptyDir, and the root is read-only",
                    container.name,
                    cache.display()
                )
            });
        // An emptyDir's root is 0777; bazaar refuses a cache directory others can write.
        assert_ne!(
            cache, mount,
            "{}: the module cache must be a subdirectory of the emptyDir, not its root",
            container.name
        );
    }
}

#[test]
fn keda_scales_the_worker_deployment_on_its_task_queue() {
    let manifests = Manifests::load();
    let containers = manifests.bazaar_containers();
    let worker = by_target(&containers, "worker");
    let scaled = manifests
        .of_kind("ScaledObject")
        .into_iter()
        .next()
        .expect("a KEDA ScaledObject");
    assert_eq!(
        text_at(scaled, "spec.scaleTargetRef.name"),
        text_at(worker.deployment, "metadata.name")
    );
    let triggers = sequence_at(scaled, "spec.triggers");
    let rabbitmq = triggers
        .iter()
        .find(|trigger| text_at(trigger, "type") == "rabbitmq")
        .expect("a rabbitmq trigger");
    let prefix = worker.config["queue"]["prefix"].as_str().unwrap();
    assert_eq!(
        text_at(rabbitmq, "metadata.queueName"),
        format!("{prefix}.tasks"),
        "KEDA watches the queue the workers consume"
    );
    let authentication_name = text_at(rabbitmq, "authenticationRef.name");
    let authentication = manifests
        .named("TriggerAuthentication", &authentication_name)
        .unwrap_or_else(|| panic!("no TriggerAuthentication {authentication_name}"));
    let host = sequence_at(authentication, "spec.secretTargetRef")
        .iter()
        .find(|reference| text_at(reference, "parameter") == "host")
        .expect("the TriggerAuthentication gives KEDA the broker's `host`");
    let broker = manifests
        .value("Secret", &text_at(host, "name"), &text_at(host, "key"))
        .expect("the TriggerAuthentication's Secret key exists");
    // The printed configuration shows the URL with its password redacted.
    assert_eq!(
        Some(bazaar_domain::SecretUrl::new(broker).redacted()),
        worker.config["queue"]["url"].as_str(),
        "KEDA measures the broker the workers use"
    );
}

#[test]
fn every_autoscaler_and_disruption_budget_targets_a_bazaar_deployment() {
    let manifests = Manifests::load();
    let containers = manifests.bazaar_containers();
    for autoscaler in manifests.of_kind("HorizontalPodAutoscaler") {
        assert_eq!(
            text_at(autoscaler, "spec.scaleTargetRef.kind"),
            "Deployment"
        );
        let name = text_at(autoscaler, "spec.scaleTargetRef.name");
        assert!(
            containers
                .iter()
                .any(|container| text_at(container.deployment, "metadata.name") == name),
            "HorizontalPodAutoscaler scales {name}, which is not a bazaar Deployment"
        );
    }
    for budget in manifests.of_kind("PodDisruptionBudget") {
        let selector = at(budget, "spec.selector.matchLabels").unwrap();
        assert!(
            containers
                .iter()
                .any(|container| selects(selector, container.pod)),
            "PodDisruptionBudget {} selects no bazaar pods",
            text_at(budget, "metadata.name")
        );
    }
}

#[test]
fn kubernetes_pods_run_as_the_image_user() {
    let manifests = Manifests::load();
    let user = image().user;
    let uid = user.split(':').next().unwrap();
    for container in &manifests.bazaar_containers() {
        assert_eq!(
            text_at(container.pod, "spec.securityContext.runAsUser"),
            uid,
            "{}",
            container.name
        );
    }
}

/// The webhooks service posts to URLs that users choose. Its pods may reach ports 80 and 443
/// of public addresses only (the service refuses other targets itself; the NetworkPolicy
/// holds if that check ever fails), and still reach their database and DNS.
#[test]
fn the_webhooks_pods_reach_the_web_ports_of_public_addresses_only() {
    let private_networks = [
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
    ];
    let manifests = Manifests::load();
    let containers = manifests.bazaar_containers();
    let webhooks = by_target(&containers, "webhooks");
    // Egress is limited once a policy with the type `Egress` selects the pods; it is then
    // the union of those policies' rules.
    let egress_rules: Vec<(String, &Yaml)> = manifests
        .of_kind("NetworkPolicy")
        .into_iter()
        .filter(|policy| policy_selects(policy, webhooks.pod))
        .filter(|policy| {
            strings(sequence_at(policy, "spec.policyTypes")).contains(&"Egress".to_owned())
        })
        .flat_map(|policy| {
            let name = text_at(policy, "metadata.name");
            sequence_at(policy, "spec.egress")
                .iter()
                .map(move |rule| (name.clone(), rule))
        })
        .collect();
    assert!(
        !egress_rules.is_empty(),
        "no NetworkPolicy limits where the webhooks pods connect"
    );
    for (name, rule) in &egress_rules {
        // Rules that surely open neither port are of no concern here; a named port may be any.
        if [80, 443]
            .into_iter()
            .all(|port| rule_opens(rule, port) == Some(false))
        {
            continue;
        }
        let peers = sequence_at(rule, "to");
        assert!(
            !peers.is_empty(),
            "NetworkPolicy {name}: an egress rule opens port 80 or 443 to every address"
        );
        for peer in peers {
            let block = at(peer, "ipBlock").unwrap_or_else(|| {
                panic!("NetworkPolicy {name}: port 80 or 443 open to a peer that is no ipBlock: {peer:?}")
            });
            let cidr = Ipv4Network::parse(&text_at(block, "cidr"));
            let except: Vec<Ipv4Network> = strings(sequence_at(block, "except"))
                .iter()
                .map(|raw| Ipv4Network::parse(raw))
                .collect();
            for raw in private_networks {
                let private = Ipv4Network::parse(raw);
                assert!(
                    !cidr.overlaps(private)
                        || except.iter().any(|excepted| excepted.contains(private)),
                    "NetworkPolicy {name}: ports 80 and 443 of {raw} are open to the webhooks pods"
                );
            }
        }
    }
    let public_web = |port: u16| {
        egress_rules.iter().any(|(_, rule)| {
            rule_opens(rule, port) == Some(true)
                && sequence_at(rule, "to").iter().any(|peer| {
                    at(peer, "ipBlock.cidr").is_some_and(|cidr| text(cidr) == "0.0.0.0/0")
                })
        })
    };
    assert!(
        public_web(80) && public_web(443),
        "the webhooks pods reach ports 80 and 443 of public addresses (ipBlock 0.0.0.0/0)"
    );
    let database = webhooks.config["database"]["url"]
        .as_str()
        .and_then(|url| reqwest::Url::parse(url).ok())
        .expect("the webhooks service has a database.url");
    let database_port = database.port().unwrap_or(5432);
    for (port, what) in [(53, "DNS"), (database_port, "PostgreSQL")] {
        assert!(
            egress_rules
                .iter()
                .any(|(_, rule)| rule_opens(rule, port) == Some(true)),
            "the webhooks pods reach {what} on port {port}"
        );
    }
}

/// Whether a NetworkPolicy applies to the pods of `pod`, a pod template.
fn policy_selects(policy: &Yaml, pod: &Yaml) -> bool {
    assert!(
        at(policy, "spec.podSelector.matchExpressions").is_none(),
        "NetworkPolicy {}: this test reads matchLabels only",
        text_at(policy, "metadata.name")
    );
    // No labels select every pod of the namespace.
    let every_pod = Yaml::Mapping(Default::default());
    selects(
        at(policy, "spec.podSelector.matchLabels").unwrap_or(&every_pod),
        pod,
    )
}

/// Whether an egress rule opens `port`: `None` when a named port leaves it unknown.
fn rule_opens(rule: &Yaml, port: u16) -> Option<bool> {
    let ports = sequence_at(rule, "ports");
    if ports.is_empty() {
        return Some(true);
    }
    let mut unknown = false;
    for entry in ports {
        match at(entry, "port") {
            None => return Some(true),
            Some(Yaml::Number(first)) if port_range_contains(entry, first, port) => {
                return Some(true);
            }
            Some(Yaml::Number(_)) => {}
            Some(_) => unknown = true,
        }
    }
    if unknown { None } else { Some(false) }
}

/// Whether the port entry from `first` to its `endPort` (or `first` alone) holds `port`.
fn port_range_contains(entry: &Yaml, first: &serde_yaml_ng::Number, port: u16) -> bool {
    let first = first.as_u64().unwrap();
    let last = at(entry, "endPort").and_then(Yaml::as_u64).unwrap_or(first);
    (first..=last).contains(&u64::from(port))
}

/// An IPv4 network, `a.b.c.d/n`, as an ipBlock names it.
#[derive(Clone, Copy)]
struct Ipv4Network {
    network: u32,
    prefix_length: u32,
}

impl Ipv4Network {
    fn parse(raw: &str) -> Self {
        let (address, prefix_length) = raw
            .split_once('/')
            .unwrap_or_else(|| panic!("{raw} is not an IPv4 network (this test reads no IPv6)"));
        let address: std::net::Ipv4Addr = address
            .parse()
            .unwrap_or_else(|_| panic!("{raw} is not an IPv4 network (this test reads no IPv6)"));
        let prefix_length: u32 = prefix_length
            .parse()
            .ok()
            .filter(|length| *length <= 32)
            .unwrap_or_else(|| panic!("{raw}: a prefix length of 0 to 32"));
        Ipv4Network {
            network: u32::from(address),
            prefix_length,
        }
    }

    fn mask(self) -> u32 {
        u32::MAX.checked_shl(32 - self.prefix_length).unwrap_or(0)
    }

    /// Whether every address of `other` is in this network.
    fn contains(self, other: Ipv4Network) -> bool {
        self.prefix_length <= other.prefix_length
            && (self.network ^ other.network) & self.mask() == 0
    }

    fn overlaps(self, other: Ipv4Network) -> bool {
        self.contains(other) || other.contains(self)
    }
}

// ---------------------------------------------------------------------------------------
// Docker Compose

struct ComposeService {
    name: String,
    definition: Yaml,
    config: Json,
}

/// Every bazaar service of deploy/compose.yaml, with its configuration.
fn compose_services() -> Vec<ComposeService> {
    let image = image();
    let compose = yaml_documents(&repository_root().join("deploy/compose.yaml"))
        .pop()
        .expect("deploy/compose.yaml is not empty");
    let services = at(&compose, "services")
        .and_then(Yaml::as_mapping)
        .expect("compose.yaml has services");
    let mut found = Vec::new();
    for (name, definition) in services {
        let name = text(name);
        if !at(definition, "image").is_some_and(|image| text(image).starts_with(IMAGE)) {
            continue;
        }
        let arguments = strings(sequence_at(definition, "command"));
        let mut environment = image.environment.clone();
        match at(definition, "environment") {
            Some(Yaml::Mapping(variables)) => {
                for (key, value) in variables {
                    environment.insert(text(key), text(value));
                }
            }
            Some(Yaml::Sequence(variables)) => {
                for variable in variables {
                    let variable = text(variable);
                    let (key, value) = variable.split_once('=').unwrap_or((&variable, ""));
                    environment.insert(key.to_owned(), value.to_owned());
                }
            }
            _ => {}
        }
        let config = print_config(&arguments, &environment).unwrap_or_else(|error| {
            panic!("compose service {name}: bazaar {arguments:?} --print-config failed: {error}")
        });
        found.push(ComposeService {
            name,
            definition: definition.clone(),
            config,
        });
    }
    found
}

#[test]
fn the_binary_accepts_each_compose_service_and_the_services_find_each_other() {
    let services = compose_services();
    let targets: BTreeSet<&str> = services
        .iter()
        .map(|service| target(&service.config))
        .collect();
    assert_eq!(
        targets,
        BTreeSet::from(["gateway", "results", "webhooks", "worker"])
    );
    for service in &services {
        let listeners = listeners(&service.config);
        // Published ports (`[host_ip:]host_port:container_port`) reach a listener.
        for published in strings(sequence_at(&service.definition, "ports")) {
            let container_port: u16 = published.rsplit(':').next().unwrap().parse().unwrap();
            assert!(
                listeners.ports.contains(&container_port),
                "compose service {}: publishes {published}, where nothing listens",
                service.name
            );
        }
        if target(&service.config) == "gateway" {
            let url = service.config["results"]["url"]
                .as_str()
                .expect("the gateway has results.url");
            let (host, port) = host_and_port(url);
            let results = services
                .iter()
                .find(|candidate| candidate.name == host)
                .unwrap_or_else(|| panic!("results.url {url}: no compose service {host}"));
            assert_eq!(target(&results.config), "results", "results.url {url}");
            assert_eq!(
                port,
                listen(&results.config, "results").port(),
                "results.url {url}"
            );
        }
    }
}

/// The webhooks service sends what the gateways and the results service put in the
/// database's outbox: in distributed mode that database is PostgreSQL, as `bazaar` requires
/// at start-up (which `--print-config` does not check).
#[test]
fn every_deployed_webhooks_service_reads_its_outbox_from_postgresql() {
    let manifests = Manifests::load();
    let containers = manifests.bazaar_containers();
    let services = compose_services();
    let kubernetes = containers
        .iter()
        .map(|container| (container.name.clone(), &container.config));
    let compose = services
        .iter()
        .map(|service| (format!("compose service {}", service.name), &service.config));
    for (name, config) in kubernetes
        .chain(compose)
        .filter(|(_, config)| target(config) == "webhooks")
    {
        let url = config["database"]["url"].as_str().unwrap_or_default();
        assert!(
            url.starts_with("postgres://") || url.starts_with("postgresql://"),
            "{name}: database.url is {url:?}, not PostgreSQL"
        );
    }
}

#[test]
fn the_compose_worker_caches_modules_in_a_private_directory_on_a_writable_mount() {
    let services = compose_services();
    for service in services
        .iter()
        .filter(|service| target(&service.config) == "worker")
    {
        let name = &service.name;
        assert_eq!(
            at(&service.definition, "read_only").and_then(Yaml::as_bool),
            Some(true),
            "compose service {name}: a read-only root"
        );
        let cache = service.config["sandbox"]["cache_dir"]
            .as_str()
            .map(PathBuf::from)
            .expect("the worker sets sandbox.cache_dir");
        // (mount point, whether code may be mapped from it). Docker mounts tmpfs noexec
        // unless told `exec`; volumes (`[source:]target[:mode]`) allow it.
        let tmpfs = strings(sequence_at(&service.definition, "tmpfs"))
            .into_iter()
            .map(|entry| match entry.split_once(':') {
                Some((mount, options)) => {
                    let executable = options.split(',').any(|option| option == "exec");
                    (mount.to_owned(), executable)
                }
                None => (entry, false),
            });
        let volumes = strings(sequence_at(&service.definition, "volumes"))
            .into_iter()
            .map(|entry| {
                let parts: Vec<&str> = entry.split(':').collect();
                let mount = if parts.len() == 1 { parts[0] } else { parts[1] };
                (mount.to_owned(), true)
            });
        let (mount, executable) = tmpfs
            .chain(volumes)
            .find(|(mount, _)| cache.starts_with(mount))
            .unwrap_or_else(|| {
                panic!(
                    "compose service {name}: the module cache {} is on no tmpfs or volume",
                    cache.display()
                )
            });
        assert_ne!(
            cache,
            Path::new(&mount),
            "compose service {name}: a subdirectory the worker creates private, not a mount point"
        );
        assert!(
            executable,
            "compose service {name}: cached modules are mapped as code, so {mount} needs `exec`"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The image and the test itself

#[test]
fn the_image_exposes_the_ports_the_binary_listens_on() {
    let image = image();
    let config = print_config(&[], &image.environment).expect("the image's ENV is accepted");
    let listening: BTreeSet<u16> = ["http", "results", "ops"]
        .iter()
        .map(|section| listen(&config, section).port())
        .collect();
    assert_eq!(image.exposed_ports, listening);
}

#[test]
fn a_misspelt_or_malformed_setting_makes_the_binary_fail() {
    let misspelt =
        Environment::from([("BAZAAR_HTTP__LISTN".to_owned(), "0.0.0.0:8080".to_owned())]);
    let error = print_config(&[], &misspelt).expect_err("an unknown key is refused");
    assert!(error.contains("listn"), "{error}");

    let malformed = Environment::from([("BAZAAR_OPS__LISTEN".to_owned(), "9090".to_owned())]);
    print_config(&[], &malformed).expect_err("a port alone is not an address");

    let correct =
        Environment::from([("BAZAAR_HTTP__LISTEN".to_owned(), "0.0.0.0:8080".to_owned())]);
    let config = print_config(&["--target".to_owned(), "worker".to_owned()], &correct).unwrap();
    assert_eq!(target(&config), "worker");
    assert_eq!(listen(&config, "http").port(), 8080);
}

#[test]
fn printed_configuration_shows_no_password_of_any_backend_url() {
    let environment = Environment::from([
        (
            "BAZAAR_DATABASE__URL".to_owned(),
            "postgres://u:secret@db.internal:5432/bazaar".to_owned(),
        ),
        (
            "BAZAAR_QUEUE__URL".to_owned(),
            "amqp://u:secret@rabbit.internal:5672/%2f".to_owned(),
        ),
        (
            "BAZAAR_BLOBS__URL".to_owned(),
            "s3://bazaar-agents".to_owned(),
        ),
    ]);
    let arguments = ["--target".to_owned(), "gateway".to_owned()];
    let config = print_config(&arguments, &environment).expect("the settings are accepted");

    let printed = config.to_string();
    assert!(!printed.contains("secret"), "{printed}");
    assert_eq!(
        config["database"]["url"],
        "postgres://u:***@db.internal:5432/bazaar"
    );
    assert_eq!(
        config["queue"]["url"],
        "amqp://u:***@rabbit.internal:5672/%2f"
    );
}

#[test]
fn an_unknown_backend_scheme_stops_the_binary_before_it_starts() {
    for (variable, url) in [
        ("BAZAAR_DATABASE__URL", "mysql://u:secret@db/bazaar"),
        ("BAZAAR_QUEUE__URL", "nats://u:secret@nats:4222"),
        ("BAZAAR_BLOBS__URL", "gs://bazaar-agents"),
    ] {
        let environment = Environment::from([(variable.to_owned(), url.to_owned())]);
        let error = print_config(&[], &environment).expect_err("an unknown scheme is refused");
        assert!(error.contains("unsupported"), "{variable}: {error}");
        assert!(!error.contains("secret"), "{variable}: {error}");
    }
}
