#!/usr/bin/env bash
# Checks the deployment files without a cluster or a Docker engine:
#
#   - k8s/: every manifest against the Kubernetes API's schemas (kubernetes-validate, strict,
#     Kubernetes $kubernetes_version), every kustomization's resources present, both
#     kustomizations rendered when kubectl is installed; then checkov's Kubernetes policies.
#   - deploy/Dockerfile: checkov's Dockerfile policies.
#   - deploy/compose.yaml: the Compose Specification's JSON schema (check-jsonschema).
#
# That the bazaar binary accepts each container's arguments and environment, and that ports,
# probes and URLs agree with its configuration, is services/bazaar/tests/deploy.rs's job.
#
# The tools are installed from PyPI into a virtualenv (BAZAAR_DEPLOY_VENV, default
# /var/tmp/bazaar-deploy-venv) the first time, and again only when the pins below change.
# Needs python3 with venv and pip. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${BAZAAR_DEPLOY_VENV:-/var/tmp/bazaar-deploy-venv}"
# Pinned, so that every machine checks against the same rules.
requirements=(
    "kubernetes-validate==1.37.0"
    "checkov==3.3.30"
    "check-jsonschema==0.39.0"
    "PyYAML==6.0.4"
)
# The oldest Kubernetes release the manifests must work on.
kubernetes_version=1.30.0

# Checkov policies that do not fit Bazaar, and why:
skipped_checks=(
    # "Image should use digest": the manifests pin a release tag (ghcr.io/bazaar/bazaar:0.1.0)
    # that is never moved; a digest is only known after the image is pushed, and a release
    # pipeline can pin it then with `kustomize edit set image`.
    CKV_K8S_43
    # "Image Pull Policy should be Always": with an immutable tag IfNotPresent pulls once per
    # node, and pods still start while the registry is down.
    CKV_K8S_15
    # "Prefer using secrets as files over secrets as environment variables": bazaar reads its
    # configuration from BAZAAR_SECTION__KEY variables and the S3 client its credentials from
    # the standard AWS_* variables, so the Secret is handed over as environment variables.
    CKV_K8S_35
    # "Ensure that HEALTHCHECK instructions have been added to container images": the runtime
    # image is distroless, with no shell or HTTP client to run a check inside the container;
    # orchestrators probe /healthz and /readyz from outside (the Kubernetes probes).
    CKV_DOCKER_2
)

step() { echo; echo "--- check-deploy: $*"; }

stamp="$venv/.bazaar-requirements"
if [[ "$(cat "$stamp" 2>/dev/null)" != "${requirements[*]}" ]]; then
    step "installing ${requirements[*]} into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || {
        echo "check-deploy.sh: python3 -m venv failed; on Debian, apt-get install python3-venv" >&2
        exit 1
    }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
    echo "${requirements[*]}" >"$stamp"
fi
bin="$venv/bin"

failed=()
# Runs one check; a failure is reported at the end, after every check has run.
check() {
    local name=$1
    shift
    step "$name"
    "$@" || failed+=("$name")
}

check "Kubernetes manifests against the API schemas (Kubernetes $kubernetes_version)" \
    "$bin/python" scripts/check_k8s_manifests.py "$kubernetes_version" k8s

render() {
    local rendered
    rendered=$(kubectl kustomize "$1") || return 1
    echo "$(grep -c '^kind:' <<<"$rendered") resources"
}
if command -v kubectl >/dev/null 2>&1; then
    check "kubectl kustomize k8s" render k8s
    check "kubectl kustomize k8s/without-keda" render k8s/without-keda
else
    step "kubectl is not installed: the kustomizations are checked but not rendered"
fi

skip=$(IFS=,; echo "${skipped_checks[*]}")
# --skip-download: no policy metadata from the vendor's platform (needs no network).
checkov=("$bin/checkov" --quiet --compact --skip-download --skip-check "$skip")
check "checkov: k8s/" "${checkov[@]}" --directory k8s --framework kubernetes
check "checkov: deploy/Dockerfile" "${checkov[@]}" --file deploy/Dockerfile --framework dockerfile

check "deploy/compose.yaml against the Compose Specification" \
    "$bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

if ((${#failed[@]})); then
    echo
    printf 'check-deploy: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
step "passed"
