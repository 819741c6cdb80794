{{/* <release>-backstage-py, or the release name when it already holds the chart name. */}}
{{- define "bp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 32 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 32 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of a unit's objects (Deployment, Service, ConfigMap, ...): a DNS label. */}}
{{- define "bp.unitName" -}}
{{- printf "%s-%s" (include "bp.fullname" .root) .unit | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "bp.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .unit }}
{{- end -}}

{{- define "bp.labels" -}}
{{ include "bp.selectorLabels" . }}
app.kubernetes.io/part-of: backstage-py
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The units, each merged over unitDefaults, as JSON: {"units": [...]}. */}}
{{- define "bp.units" -}}
{{- $units := list -}}
{{- range $unit := .Values.units -}}
{{- $units = append $units (mustMergeOverwrite (deepCopy $.Values.unitDefaults) (deepCopy $unit)) -}}
{{- end -}}
{{- toJson (dict "units" $units) -}}
{{- end -}}

{{/* Plugin id -> the unit hosting it; fails when a plugin is hosted by two units. */}}
{{- define "bp.pluginTable" -}}
{{- $table := dict -}}
{{- range $unit := .Values.units -}}
{{- range $plugin := $unit.plugins -}}
{{- if hasKey $table $plugin -}}
{{- fail (printf "plugin %q is hosted by two units (%s and %s); a plugin runs in exactly one unit" $plugin (get $table $plugin) $unit.name) -}}
{{- end -}}
{{- $_ := set $table $plugin $unit.name -}}
{{- end -}}
{{- end -}}
{{- toJson $table -}}
{{- end -}}

{{- define "bp.baseUrl" -}}
{{- if .Values.backend.baseUrl -}}
{{- .Values.backend.baseUrl | trimSuffix "/" -}}
{{- else -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) (required "ingress.host or backend.baseUrl must be set" .Values.ingress.host) -}}
{{- end -}}
{{- end -}}

{{/* A unit's app-config (its ConfigMap): discovery of every plugin (the internal URL is
the Service of the unit hosting it), the database prefix, extraAppConfig, the unit's own
appConfig. No secrets: those reach the unit as environment variables. */}}
{{- define "bp.appConfig" -}}
{{- $root := .root -}}
{{- $table := include "bp.pluginTable" $root | fromJson -}}
{{- $endpoints := list -}}
{{- range $plugin := keys $table | sortAlpha -}}
{{- $service := include "bp.unitName" (dict "root" $root "unit" (get $table $plugin)) -}}
{{- $internal := printf "http://%s.%s.svc:%v/api/%s" $service $root.Release.Namespace $root.Values.backend.port $plugin -}}
{{- $external := printf "%s/api/%s" (include "bp.baseUrl" $root) $plugin -}}
{{- $endpoints = append $endpoints (dict "plugins" (list $plugin) "target" (dict "internal" $internal "external" $external)) -}}
{{- end -}}
{{- $backend := dict "listen" (dict "port" $root.Values.backend.port) "database" (dict "prefix" $root.Values.database.prefix) -}}
{{- $config := dict "backend" $backend "discovery" (dict "endpoints" $endpoints) -}}
{{- $config = mustMergeOverwrite $config (deepCopy $root.Values.extraAppConfig) (deepCopy (.unit.appConfig | default dict)) -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "bp.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "%s.name must name an existing Secret" .at) .ref.name | quote }}
      key: {{ required (printf "%s.key must be set" .at) .ref.key | quote }}
{{- end -}}

{{/* The topology the units load their plugins from: the chart's units. */}}
{{- define "bp.topology" -}}
{{- $plugins := dict -}}
{{- $units := dict -}}
{{- range $unit := .Values.units -}}
{{- $_ := set $units $unit.name (dict "plugins" $unit.plugins) -}}
{{- range $plugin := $unit.plugins -}}
{{- $_ := set $plugins $plugin (dict) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "plugins" $plugins "units" $units) -}}
{{- end -}}
