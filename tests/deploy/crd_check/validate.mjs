// Validates custom resources against the OpenAPI schemas published with their CRDs
// (kubernetes-models generates its validators from the Gateway API and Prometheus Operator
// CRDs). Reads a JSON array of manifests on stdin, prints a JSON array of
// {kind, name, error} (error null when valid); a kind it has no schema for is an error.
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = {
  "gateway.networking.k8s.io/v1 HTTPRoute": HTTPRoute,
  "monitoring.coreos.com/v1 ServiceMonitor": ServiceMonitor,
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((manifest) => {
  const key = `${manifest.apiVersion} ${manifest.kind}`;
  const Model = models[key];
  let error = null;
  if (!Model) {
    error = `no published schema for ${key}`;
  } else {
    try {
      new Model(manifest).validate();
    } catch (e) {
      error = e.message;
    }
  }
  return { kind: manifest.kind, name: manifest.metadata?.name ?? null, error };
});
process.stdout.write(JSON.stringify(results));
