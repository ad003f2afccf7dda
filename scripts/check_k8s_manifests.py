"""Validates Bazaar's Kubernetes manifests; run by scripts/check-deploy.sh in its venv.

    check_k8s_manifests.py KUBERNETES_VERSION DIRECTORY

Every YAML document under DIRECTORY is checked against the Kubernetes API's JSON schemas
(kubernetes-validate, strict: unknown fields are errors) for KUBERNETES_VERSION, except:

- Kustomizations, which are kustomize's, not the API server's: their `resources` must exist,
  and every manifest must be listed by one of them, so none is forgotten by `kubectl apply -k`.
- KEDA's custom resources, for which no schema ships with kubernetes-validate. They are named
  here one by one: any other kind without a schema is an error (a misspelt `kind` or
  `apiVersion` would otherwise pass with a mere warning, which is what the kubernetes-validate
  command does). services/bazaar/tests/deploy.rs checks what they refer to.
"""

import os
import pathlib
import sys

import kubernetes_validate
import yaml

KUSTOMIZATION = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
CUSTOM_RESOURCES_WITHOUT_SCHEMA = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}


def main(kubernetes_version: str, directory: pathlib.Path) -> int:
    errors = []
    listed = set()
    manifests = []
    for path in sorted(directory.rglob("*.yaml")):
        try:
            documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        except yaml.YAMLError as error:
            errors.append(f"{path}: not YAML: {error}")
            continue
        for document in documents:
            if not isinstance(document, dict):
                errors.append(f"{path}: a document that is not a mapping")
                continue
            kind = (document.get("apiVersion"), document.get("kind"))
            name = (document.get("metadata") or {}).get("name")
            if kind == KUSTOMIZATION:
                listed.update(check_kustomization(path, document, errors))
                continue
            manifests.append(path.resolve())
            if kind in CUSTOM_RESOURCES_WITHOUT_SCHEMA:
                print(f"SKIP  {path}: {kind[1]}/{name}: custom resource, no schema")
                continue
            try:
                kubernetes_validate.validate(document, kubernetes_version, strict=True)
                print(f"OK    {path}: {kind[1]}/{name}")
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                errors.append(f"{path}: {kind[1]}/{name}: {where}: {error.message}")
            except kubernetes_validate.SchemaNotFoundError as error:
                errors.append(f"{path}: {error.message} (a misspelt kind or apiVersion?)")
    for path in sorted(set(manifests) - listed):
        errors.append(f"{os.path.relpath(path)}: not listed in any kustomization.yaml")
    for error in errors:
        print(f"ERROR {error}")
    print(f"check_k8s_manifests: Kubernetes {kubernetes_version}, {len(errors)} error(s)")
    return 1 if errors else 0


def check_kustomization(path: pathlib.Path, document: dict, errors: list) -> set:
    """The files a kustomization lists, after checking that each exists."""
    listed = set()
    for resource in document.get("resources", []):
        target = (path.parent / resource).resolve()
        if target.is_dir():
            if not (target / "kustomization.yaml").is_file():
                errors.append(f"{path}: {resource} has no kustomization.yaml")
        elif target.is_file():
            listed.add(target)
        else:
            errors.append(f"{path}: resource {resource} does not exist")
    return listed


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], pathlib.Path(sys.argv[2])))
