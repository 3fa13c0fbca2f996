{{/*
The four long-running apps, in a fixed order. Every app's container and Service have a port named
"http" that serves /healthz, /readyz and /metrics (probes and the ServiceMonitor use it); ingress's
public webhook port is a separate one named "webhooks", and dedupe's gRPC port is "grpc".
*/}}
{{- define "switchyard.apps" -}}
ingress admin dedupe fanout
{{- end }}

{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one app's objects: (dict "root" $ "app" "ingress") */}}
{{- define "switchyard.componentName" -}}
{{- printf "%s-%s" (include "switchyard.fullname" .root | trunc 55 | trimSuffix "-") .app }}
{{- end }}

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .app }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Common labels; pass (dict "root" $ "app" "ingress") or (dict "root" $) */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- end }}

{{/* The container port (number) named "http" of an app: its health and metrics port. */}}
{{- define "switchyard.httpPort" -}}
{{- $v := index .root.Values .app }}
{{- if eq .app "ingress" }}{{ $v.opsPort }}{{ else }}{{ $v.httpPort }}{{ end }}
{{- end }}

{{- define "switchyard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "switchyard.secretName" -}}
{{- default (printf "%s-secrets" (include "switchyard.fullname" .)) .Values.existingSecret }}
{{- end }}

{{/* A value from values.yaml as the string an env variable holds (no 1e+06 for large integers). */}}
{{- define "switchyard.envString" -}}
{{- if kindIs "float64" . }}
{{- if eq . (floor .) }}{{ printf "%.0f" . }}{{ else }}{{ . }}{{ end }}
{{- else if kindIs "invalid" . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* The non-secret configuration, as a YAML map of variable → string (ConfigMap data and the setup Job). */}}
{{- define "switchyard.configData" -}}
{{- $env := dict }}
{{- range $k, $v := .Values.config }}
{{- $_ := set $env $k (include "switchyard.envString" $v) }}
{{- end }}
{{- if not (include "switchyard.natsUrlInSecret" .) }}
{{- $_ := set $env "NATS_URL" .Values.nats.url }}
{{- end }}
{{- $_ := set $env "INGRESS_PORT" (include "switchyard.envString" .Values.ingress.webhookPort) }}
{{- $_ := set $env "INGRESS_OPS_PORT" (include "switchyard.envString" .Values.ingress.opsPort) }}
{{- $_ := set $env "ADMIN_PORT" (include "switchyard.envString" .Values.admin.httpPort) }}
{{- $_ := set $env "DEDUPE_GRPC_PORT" (include "switchyard.envString" .Values.dedupe.grpcPort) }}
{{- $_ := set $env "DEDUPE_HTTP_PORT" (include "switchyard.envString" .Values.dedupe.httpPort) }}
{{- $_ := set $env "FANOUT_HTTP_PORT" (include "switchyard.envString" .Values.fanout.httpPort) }}
{{- $_ := set $env "DEDUPE_GRPC_URL" (printf "%s:%s" (include "switchyard.componentName" (dict "root" . "app" "dedupe")) (include "switchyard.envString" .Values.dedupe.grpcPort)) }}
{{- with .Values.otel.endpoint }}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_ENDPOINT" . }}
{{- $_ := set $env "OTEL_EXPORTER_OTLP_PROTOCOL" $.Values.otel.protocol }}
{{- end }}
{{- range $k, $v := .Values.otel.env }}
{{- $_ := set $env $k (include "switchyard.envString" $v) }}
{{- end }}
{{- range $k := keys $env | sortAlpha }}
{{ $k }}: {{ get $env $k | quote }}
{{- end }}
{{- end }}

{{/*
"true" when NATS_URL is read from a Secret rather than the ConfigMap: when nats.url holds a user and password
or a token (nats://user:pass@host, nats://token@host), which must not be rendered into a ConfigMap or a pod
spec, or when existingSecretKeys.NATS_URL names the key of existingSecret that holds it.
*/}}
{{- define "switchyard.natsUrlInSecret" -}}
{{- $credentials := regexMatch "//[^@/,]*@" .Values.nats.url }}
{{- if .Values.existingSecret }}
{{- if .Values.existingSecretKeys.NATS_URL }}true
{{- else if $credentials }}
{{- fail "nats.url holds credentials, which would be rendered in plain text into the ConfigMap: with existingSecret, put NATS_URL into that Secret and set existingSecretKeys.NATS_URL to its key" }}
{{- end }}
{{- else if $credentials }}true
{{- end }}
{{- end }}

{{/* DATABASE_URL, ADMIN_TOKEN, KEY_PEPPER, SECRETS_KEYS (and NATS_URL, see natsUrlInSecret) from the chart's Secret or existingSecret. */}}
{{- define "switchyard.secretEnv" -}}
{{- $name := include "switchyard.secretName" . }}
{{- $vars := list "DATABASE_URL" "ADMIN_TOKEN" "KEY_PEPPER" "SECRETS_KEYS" }}
{{- if include "switchyard.natsUrlInSecret" . }}
{{- $vars = append $vars "NATS_URL" }}
{{- end }}
{{- range $var := $vars }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ if $.Values.existingSecret }}{{ index $.Values.existingSecretKeys $var | default $var }}{{ else }}{{ $var }}{{ end }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the apps and the setup Job. */}}
{{- define "switchyard.podSpecCommon" -}}
automountServiceAccountToken: false
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Checksums that roll the pods when their configuration changes. */}}
{{- define "switchyard.checksums" -}}
checksum/config: {{ include "switchyard.configData" . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ list .Values.database.url .Values.secrets .Values.nats.url | toJson | sha256sum }}
{{- end }}
{{- end }}

{{/*
The chart's Secret data. Tokens not given in values are read back from the Secret in the cluster
(so upgrades keep them) and generated on first install.
*/}}
{{- define "switchyard.secretData" -}}
{{- $existing := (lookup "v1" "Secret" .Release.Namespace (include "switchyard.secretName" .)).data | default dict }}
{{- $admin := .Values.secrets.adminToken | default (get $existing "ADMIN_TOKEN" | default "" | b64dec) | default (randAlphaNum 48) }}
{{- $pepper := .Values.secrets.keyPepper | default (get $existing "KEY_PEPPER" | default "" | b64dec) | default (randAlphaNum 48) }}
{{- $dataKeys := .Values.secrets.secretsKeys | default (get $existing "SECRETS_KEYS" | default "" | b64dec) | default (printf "k1:%s" (randBytes 32)) }}
DATABASE_URL: {{ .Values.database.url | b64enc | quote }}
ADMIN_TOKEN: {{ $admin | b64enc | quote }}
KEY_PEPPER: {{ $pepper | b64enc | quote }}
SECRETS_KEYS: {{ $dataKeys | b64enc | quote }}
{{- if include "switchyard.natsUrlInSecret" . }}
NATS_URL: {{ .Values.nats.url | b64enc | quote }}
{{- end }}
{{- end }}

{{/* A duration of libs/config (parseDuration: a number with ms, s, m, h or d; ms without a unit) in milliseconds, as a float. */}}
{{- define "switchyard.durationMs" -}}
{{- $text := include "switchyard.envString" . | trim }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)?$" $text) }}
{{- fail (printf "%q is not a duration (use a number with ms, s, m, h or d, e.g. 1m)" $text) }}
{{- end }}
{{- $unit := regexReplaceAll "^[0-9.]+" $text "" | default "ms" }}
{{- $factor := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000) $unit }}
{{- mulf (regexFind "^[0-9.]+" $text | float64) $factor }}
{{- end }}

{{/*
fanoutDrainMs of libs/config/src/config.ts for .Values.config: how long a stopping fan-out waits for the
attempts under way (the longest attempt, DELIVERY_FAST_PATH_WAIT, 2 s to record them). A key missing from
config falls back to libs/config's default.
*/}}
{{- define "switchyard.fanoutDrainMs" -}}
{{- $c := .Values.config }}
{{- $timeout := include "switchyard.durationMs" (hasKey $c "DELIVERY_TIMEOUT" | ternary $c.DELIVERY_TIMEOUT "10s") | float64 }}
{{- $clinicMax := include "switchyard.durationMs" (hasKey $c "CLINIC_MAX_TIMEOUT" | ternary $c.CLINIC_MAX_TIMEOUT "15s") | float64 }}
{{- $lease := include "switchyard.durationMs" (hasKey $c "DELIVERY_LEASE" | ternary $c.DELIVERY_LEASE "60s") | float64 }}
{{- $fastPath := include "switchyard.durationMs" (hasKey $c "DELIVERY_FAST_PATH_WAIT" | ternary $c.DELIVERY_FAST_PATH_WAIT "500ms") | float64 }}
{{- $ceiling := maxf $clinicMax (minf 30000 (floor (divf $lease 2))) }}
{{- $longest := maxf $timeout (minf 30000 $ceiling) }}
{{- addf $longest $fastPath 2000 }}
{{- end }}

{{/* Refuses a terminationGracePeriodSeconds that would kill a stopping fan-out before its drain ends. */}}
{{- define "switchyard.checkGracePeriod" -}}
{{- $drainMs := include "switchyard.fanoutDrainMs" . | float64 }}
{{- $needMs := addf (mulf .Values.preStopSleepSeconds 1000) $drainMs 2000 }}
{{- if lt (mulf .Values.terminationGracePeriodSeconds 1000) $needMs }}
{{- fail (printf "terminationGracePeriodSeconds %v is too short: a stopping fan-out needs preStopSleepSeconds (%v s) + its drain (%.1f s with this config: the longest attempt, DELIVERY_FAST_PATH_WAIT and 2 s to record) + 2 s to close, so at least %.0f (docs/OPERATIONS.md#stopping-and-rolling-deploys)" .Values.terminationGracePeriodSeconds .Values.preStopSleepSeconds (divf $drainMs 1000) (ceil (divf $needMs 1000))) }}
{{- end }}
{{- end }}
