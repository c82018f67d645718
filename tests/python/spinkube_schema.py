"""JSON Schemas (draft 2020-12) of the SpinKube resources deploy/ uses, for test_deploy.py.

Written by hand from spin-operator's CRDs, config/crd/bases/core.spinkube.dev_spinapps.yaml and
core.spinkube.dev_spinappexecutors.yaml (their openAPIV3Schema, from api/v1alpha1/*_types.go), at
spinframework/spin-operator commit 943f5b1732b185f0f442c0fd813cf0ebf6839eca (2026-04-14). Nothing
of the operator is committed here: only our transcription of the schema.

What it keeps of the CRD: every property name of SpinApp.spec and SpinAppExecutor.spec, with the
CRD's types, `required` lists, int32 ranges, the quantity pattern of resources, and the nested
schemas of the fields deploy/ uses (variables, runtimeConfig, checks, resources, the executor's
deploymentConfig). `volumes` and `volumeMounts` (core/v1 types, unused here) are only arrays
of objects with their required keys. Where the CRD lists properties, unknown fields are errors
here, as with kubectl's default strict field validation (the API server alone would drop them
silently).

Beyond the schema, the operator's admission webhook (internal/webhook/spinapp_validating.go)
requires an executor that exists in the app's namespace and, without autoscaling, replicas >= 1:
test_deploy.py checks those across the files.
"""

GROUP_VERSION = "core.spinkube.dev/v1alpha1"
OPERATOR_COMMIT = "943f5b1732b185f0f442c0fd813cf0ebf6839eca"

STRING = {"type": "string"}
BOOL = {"type": "boolean"}
INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
STRING_MAP = {"type": "object", "additionalProperties": STRING}
# resource.Quantity: x-kubernetes-int-or-string with the CRD's pattern
QUANTITY = {
    "anyOf": [
        {"type": "integer"},
        {
            "type": "string",
            "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]"
            r"|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
        },
    ]
}
# metadata is `type: object` in the CRD; the API server requires a DNS-1123 name.
DNS1123 = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": DNS1123},
        "namespace": STRING,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
}


def obj(properties, required=()):
    """A structural object: these properties only (strict field validation)."""
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def key_selector():
    """corev1.SecretKeySelector / ConfigMapKeySelector."""
    return obj({"key": STRING, "name": STRING, "optional": BOOL}, ["key"])


# corev1.EnvVarSource, as SpinVar.valueFrom
ENV_VAR_SOURCE = obj({
    "configMapKeyRef": key_selector(),
    "secretKeyRef": key_selector(),
    "fieldRef": obj({"apiVersion": STRING, "fieldPath": STRING}, ["fieldPath"]),
    "fileKeyRef": obj({"key": STRING, "optional": BOOL, "path": STRING, "volumeName": STRING},
                      ["key", "path", "volumeName"]),
    "resourceFieldRef": obj({"containerName": STRING, "divisor": QUANTITY, "resource": STRING},
                            ["resource"]),
})

# RuntimeConfigOption: a name and a string value, static or from a ConfigMap / Secret key
OPTION = obj({
    "name": STRING,
    "value": STRING,
    "valueFrom": obj({"configMapKeyRef": key_selector(), "secretKeyRef": key_selector()}),
}, ["name"])
STORE = obj({"name": STRING, "type": STRING, "options": {"type": "array", "items": OPTION}},
            ["name", "type"])

PROBE = obj({
    "httpGet": obj({
        "path": STRING,
        "httpHeaders": {"type": "array", "items": obj({"name": STRING, "value": STRING}, ["name", "value"])},
    }, ["path"]),
    "initialDelaySeconds": INT32,
    "timeoutSeconds": INT32,
    "periodSeconds": INT32,
    "successThreshold": INT32,
    "failureThreshold": INT32,
})



def objects(*required):
    """An array of core/v1 objects whose inner schema is not transcribed here."""
    return {"type": "array", "items": {"type": "object", "required": list(required)}}


SPINAPP_SPEC = obj({
    "executor": STRING,
    "image": STRING,
    "imagePullSecrets": {"type": "array", "items": obj({"name": STRING})},
    "checks": obj({"readiness": PROBE, "liveness": PROBE}),
    "replicas": INT32,
    "enableAutoscaling": BOOL,
    "runtimeConfig": obj({
        "loadFromSecret": STRING,
        "keyValueStores": {"type": "array", "items": STORE},
        "sqliteDatabases": {"type": "array", "items": STORE},
        "llmCompute": obj({"type": STRING, "options": {"type": "array", "items": OPTION}}, ["type"]),
    }),
    "volumes": objects("name"),
    "volumeMounts": objects("mountPath", "name"),
    "variables": {"type": "array", "items": obj({"name": STRING, "value": STRING, "valueFrom": ENV_VAR_SOURCE},
                                                ["name"])},
    "serviceAnnotations": STRING_MAP,
    "deploymentAnnotations": STRING_MAP,
    "podAnnotations": STRING_MAP,
    "podLabels": STRING_MAP,
    "resources": obj({
        "limits": {"type": "object", "additionalProperties": QUANTITY},
        "requests": {"type": "object", "additionalProperties": QUANTITY},
    }),
    "components": {"type": "array", "items": STRING, "minItems": 1},
    "serviceAccountName": STRING,
    "invocationLimits": STRING_MAP,
}, ["executor", "image"])

EXECUTOR_SPEC = obj({
    "createDeployment": BOOL,
    "deploymentConfig": obj({
        "runtimeClassName": STRING,
        "spinImage": STRING,
        "caCertSecret": STRING,
        "installDefaultCACerts": BOOL,
        "otel": obj({
            "exporter_otlp_endpoint": STRING,
            "exporter_otlp_traces_endpoint": STRING,
            "exporter_otlp_metrics_endpoint": STRING,
            "exporter_otlp_logs_endpoint": STRING,
        }),
    }),
}, ["createDeployment"])


def resource(kind, spec):
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{kind} ({GROUP_VERSION}, spin-operator {OPERATOR_COMMIT[:12]})",
        **obj({
            "apiVersion": {"const": GROUP_VERSION},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
            # written by the operator, never by a manifest
            "status": {"type": "object"},
        }, ["apiVersion", "kind", "metadata", "spec"]),
    }


SPINAPP = resource("SpinApp", SPINAPP_SPEC)
SPINAPP_EXECUTOR = resource("SpinAppExecutor", EXECUTOR_SPEC)

# core/v1 Secret, the subset deploy/ uses (not a CRD: written from the Kubernetes API reference)
SECRET = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Secret (v1)",
    **obj({
        "apiVersion": {"const": "v1"},
        "kind": {"const": "Secret"},
        "metadata": METADATA,
        "type": STRING,
        "immutable": BOOL,
        "stringData": STRING_MAP,
        "data": {"type": "object", "additionalProperties": {"type": "string", "contentEncoding": "base64"}},
    }, ["apiVersion", "kind", "metadata"]),
}

SCHEMAS = {
    (GROUP_VERSION, "SpinApp"): SPINAPP,
    (GROUP_VERSION, "SpinAppExecutor"): SPINAPP_EXECUTOR,
    ("v1", "Secret"): SECRET,
}
