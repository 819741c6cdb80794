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
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The `annotations:` block of an object's metadata: commonAnnotations and `.extra`. */}}
{{- define "bp.annotations" -}}
{{- $all := mustMerge (deepCopy (.extra | default dict)) (deepCopy .root.Values.commonAnnotations) -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{/* <registry>/<repository>:<tag>, or @<digest>; global.imageRegistry wins. */}}
{{- define "bp.image" -}}
{{- $image := .Values.image -}}
{{- $registry := (.Values.global).imageRegistry | default $image.registry -}}
{{- $repository := required "image.repository must name the image built from this repository's Dockerfile and pushed to your registry (set image.registry too); the project publishes none" $image.repository -}}
{{- $ref := $repository -}}
{{- if $registry -}}
{{- $ref = printf "%s/%s" ($registry | trimSuffix "/") $repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $ref $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref ($image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "bp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "bp.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* The units a unit exchanges requests with, from `plugins.*.requires`: the units whose
plugins call one of its plugins, and the units hosting the plugins its plugins call (they
fetch the caller's public keys to check its tokens). The core's own calls too: every unit
fetches the `auth` plugin's keys to check user tokens, and asks the `permission` plugin for
decisions, which calls every plugin back (permission metadata, apply-conditions, keys).
As JSON: {"units": [...]}. */}}
{{- define "bp.peerUnits" -}}
{{- $table := include "bp.pluginTable" .root | fromJson -}}
{{- $peers := dict -}}
{{- $allUnits := list -}}
{{- range $unit := .root.Values.units -}}{{- $allUnits = append $allUnits $unit.name -}}{{- end -}}
{{- range $plugin := list "auth" "permission" -}}
{{- $host := get $table $plugin -}}
{{- if eq $host $.unit -}}
{{- range $allUnits -}}{{- $_ := set $peers . true -}}{{- end -}}
{{- end -}}
{{- if and $host (eq $plugin "permission") -}}
{{- $_ := set $peers $host true -}}
{{- end -}}
{{- end -}}
{{- range $plugin, $spec := .root.Values.plugins -}}
{{- $from := get $table $plugin -}}
{{- range $required := ($spec.requires | default list) -}}
{{- $to := get $table $required -}}
{{- if and $from $to -}}
{{- if eq $to $.unit -}}{{- $_ := set $peers $from true -}}{{- end -}}
{{- if eq $from $.unit -}}{{- $_ := set $peers $to true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "units" (keys $peers | sortAlpha)) -}}
{{- end -}}

{{/* backend.cache keys that cannot come from the environment (lists and objects): a
Redis Cluster's nodes, Infinispan's server. Passwords stay `${BACKSTAGE_CACHE_PASSWORD}`. */}}
{{- define "bp.cacheConfig" -}}
{{- $cache := .Values.cache -}}
{{- $config := dict -}}
{{- if $cache.cluster.rootNodes -}}
{{- if not (has $cache.store (list "redis" "valkey")) -}}
{{- fail (printf "cache.cluster is for the redis and valkey stores, not %q" $cache.store) -}}
{{- end -}}
{{- $nodes := list -}}
{{- range $url := $cache.cluster.rootNodes -}}
{{- $nodes = append $nodes (dict "url" $url) -}}
{{- end -}}
{{- $cluster := dict "rootNodes" $nodes "useReplicas" $cache.cluster.useReplicas -}}
{{- $defaults := dict -}}
{{- with $cache.cluster.username -}}{{- $_ := set $defaults "username" . -}}{{- end -}}
{{- if $cache.cluster.existingSecret.name -}}{{- $_ := set $defaults "password" "${BACKSTAGE_CACHE_PASSWORD}" -}}{{- end -}}
{{- if $defaults -}}{{- $_ := set $cluster "defaults" $defaults -}}{{- end -}}
{{- $_ := set $config $cache.store (dict "cluster" $cluster) -}}
{{- end -}}
{{- if eq $cache.store "infinispan" -}}
{{- $ispn := $cache.infinispan -}}
{{- $server := dict "host" (required "cache.infinispan.host must name the Infinispan server" $ispn.host) "port" $ispn.port -}}
{{- $infinispan := dict "servers" $server "ssl" (dict "enabled" $ispn.ssl) -}}
{{- if or $ispn.username $ispn.existingSecret.name -}}
{{- $auth := dict "enabled" true -}}
{{- with $ispn.username -}}{{- $_ := set $auth "userName" . -}}{{- end -}}
{{- if $ispn.existingSecret.name -}}{{- $_ := set $auth "password" "${BACKSTAGE_CACHE_PASSWORD}" -}}{{- end -}}
{{- $_ := set $infinispan "authentication" $auth -}}
{{- end -}}
{{- $_ := set $config "infinispan" $infinispan -}}
{{- end -}}
{{- toJson $config -}}
{{- end -}}

{{/* The cache store's environment: its store, its connection string or password. */}}
{{- define "bp.cacheEnv" -}}
{{- $cache := .Values.cache -}}
- name: BACKSTAGE_CACHE_STORE
  value: {{ $cache.store | quote }}
{{- if and (has $cache.store (list "redis" "valkey" "memcache")) (not $cache.cluster.rootNodes) }}
{{ include "bp.secretEnv" (dict "env" "BACKSTAGE_CACHE_URL" "ref" $cache.existingSecret "at" "cache.existingSecret") }}
{{- else if and $cache.cluster.rootNodes $cache.cluster.existingSecret.name }}
{{ include "bp.secretEnv" (dict "env" "BACKSTAGE_CACHE_PASSWORD" "ref" $cache.cluster.existingSecret "at" "cache.cluster.existingSecret") }}
{{- else if and (eq $cache.store "infinispan") $cache.infinispan.existingSecret.name }}
{{ include "bp.secretEnv" (dict "env" "BACKSTAGE_CACHE_PASSWORD" "ref" $cache.infinispan.existingSecret "at" "cache.infinispan.existingSecret") }}
{{- end }}
{{- end -}}

{{/* The units, each merged over unitDefaults, as JSON: {"units": [...]}. */}}
{{- define "bp.units" -}}
{{- $units := list -}}
{{- range $unit := .Values.units -}}
{{- $units = append $units (mustMergeOverwrite (deepCopy $.Values.unitDefaults) (deepCopy $unit)) -}}
{{- end -}}
{{- toJson (dict "units" $units) -}}
{{- end -}}

{{/* Plugin id -> the unit serving it (a unit of role background serves nothing: it runs
its plugins' background work only); fails when two units serve a plugin. */}}
{{- define "bp.pluginTable" -}}
{{- $table := dict -}}
{{- range $unit := .Values.units -}}
{{- if ne ($unit.role | default "all") "background" -}}
{{- range $plugin := $unit.plugins -}}
{{- if hasKey $table $plugin -}}
{{- fail (printf "plugin %q is hosted by two units (%s and %s); a plugin runs in exactly one unit" $plugin (get $table $plugin) $unit.name) -}}
{{- end -}}
{{- $_ := set $table $plugin $unit.name -}}
{{- end -}}
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
{{- $workers := include "bp.workers" .unit -}}
{{- $workers = ternary $workers (atoi $workers) (eq $workers "auto") -}}
{{- $backend := dict "listen" (dict "port" $root.Values.backend.port) "database" (dict "prefix" $root.Values.database.prefix) "workers" $workers -}}
{{- with .unit.role -}}
{{- $_ := set $backend "worker" (dict "role" .) -}}
{{- end -}}
{{- with include "bp.cacheConfig" $root | fromJson -}}
{{- $_ := set $backend "cache" . -}}
{{- end -}}
{{- if $root.Values.metrics.enabled -}}
{{- $_ := set $backend "metrics" (dict "prometheus" (dict "enabled" true "port" $root.Values.metrics.port)) -}}
{{- end -}}
{{- $config := dict "backend" $backend "discovery" (dict "endpoints" $endpoints) -}}
{{- $extra := dict -}}
{{- if kindIs "map" $root.Values.extraAppConfig -}}
{{- $extra = $root.Values.extraAppConfig -}}
{{- end -}}
{{- $config = mustMergeOverwrite $config (deepCopy $extra) (deepCopy (.unit.appConfig | default dict)) -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
A unit's backend.workers: its `workers` when set, else its CPU limit rounded up (500m: 1,
1.5: 2), else auto (the CPUs the container may use, its cgroup limit included).
*/}}
{{- define "bp.workers" -}}
{{- $cpu := toString ((.resources | default dict).limits | default dict).cpu | default "" -}}
{{- if .workers -}}
{{- .workers -}}
{{- else if eq $cpu "" "<nil>" -}}
auto
{{- else if hasSuffix "m" $cpu -}}
{{- max 1 (int (ceil (divf (trimSuffix "m" $cpu | float64) 1000))) -}}
{{- else -}}
{{- max 1 (int (ceil ($cpu | float64))) -}}
{{- end -}}
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
{{- $entry := dict "plugins" $unit.plugins -}}
{{- with $unit.role -}}{{- $_ := set $entry "role" . -}}{{- end -}}
{{- $_ := set $units $unit.name $entry -}}
{{- range $plugin := $unit.plugins -}}
{{- $requires := (get ($.Values.plugins | default dict) $plugin | default dict).requires | default list -}}
{{- $_ := set $plugins $plugin (ternary (dict "requires" $requires) (dict) (gt (len $requires) 0)) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "plugins" $plugins "units" $units) -}}
{{- end -}}
