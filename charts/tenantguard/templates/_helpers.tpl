{{/* Names and labels. */}}

{{- define "tenantguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name; the release name alone when it already holds the chart name. */}}
{{- define "tenantguard.fullname" -}}
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

{{- define "tenantguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tenantguard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tenantguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tenantguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tenantguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tenantguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* TLS: the Secret the server reads tls.crt and tls.key from (in mode
self, the one it creates and renews itself). */}}
{{- define "tenantguard.tlsSecretName" -}}
{{- if eq .Values.tls.mode "self" }}
{{- default (printf "%s-self-tls" (include "tenantguard.fullname" .)) .Values.tls.self.secretName }}
{{- else if eq .Values.tls.mode "secret" }}
{{- required "tls.secret.name is required when tls.mode is secret" .Values.tls.secret.name }}
{{- else }}
{{- printf "%s-tls" (include "tenantguard.fullname" .) }}
{{- end }}
{{- end }}

{{/* DNS names the serving certificate must carry: how the apiserver reaches the Service. */}}
{{- define "tenantguard.dnsNames" -}}
{{- $svc := include "tenantguard.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/*
The policy directory the server reads, as a JSON map of file name -> text:
the chart's copy of the repo's policies/ (kept identical by
scripts/sync-chart-policies.sh), then policies.extra (same name wins), then
the declared tenants. The ConfigMap is made from it, and the Settings the
chart needs (exempt namespaces, admins) are read from it, so they are the
ones the server enforces: one source.
*/}}
{{- define "tenantguard.policyFiles" -}}
{{- $files := dict }}
{{- if .Values.policies.baseline }}
{{- range $path, $content := .Files.Glob "policies/*.yaml" }}
{{- $_ := set $files (base $path) (toString $content) }}
{{- end }}
{{- end }}
{{- range $file, $content := .Values.policies.extra }}
{{- $_ := set $files $file $content }}
{{- end }}
{{- with .Values.tenants }}
{{- $docs := list }}
{{- range . }}
{{- $tenant := dict "apiVersion" "tenantguard.io/v1alpha1" "kind" "Tenant" "metadata" (dict "name" .name) "spec" (default (dict) .spec) }}
{{- $docs = append $docs (toYaml $tenant) }}
{{- end }}
{{- $_ := set $files "tenants.yaml" (printf "# Rendered from the chart's tenants value.\n%s\n" (join "\n---\n" $docs)) }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/* The spec of the Settings document among the policy files ({} when there is none). */}}
{{- define "tenantguard.settingsSpec" -}}
{{- $spec := dict }}
{{- $seen := "" }}
{{- range $file, $content := include "tenantguard.policyFiles" . | fromJson }}
{{- range regexSplit "(?m)^---[ \t]*$" $content -1 }}
{{- $doc := fromYaml . }}
{{- if and (kindIs "map" $doc) (eq (toString (get $doc "kind")) "Settings") }}
{{- /* The server refuses to start on a second one; so does the chart, before it is installed. */}}
{{- if $seen }}
{{- fail (printf "policies: a second Settings document in %s (the first is in %s); the server keeps exactly one: to change the baseline's, name your file settings.yaml in policies.extra so it replaces it" $file $seen) }}
{{- end }}
{{- $seen = $file }}
{{- $spec = default (dict) (get $doc "spec") }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $spec }}
{{- end }}

{{/*
Exempt namespaces, as a JSON list: the Settings' exemptNamespaces (the
server's default list when the Settings leave it out), the built-in ones and
the release namespace always (tenantguard's own namespace is exempt
everywhere; if tenantguard judged it, or kube-system, while it is down, a Fail
policy could block the very pods that would bring it back, and the cluster
would lock itself out), and webhook.exemptNamespaces.
*/}}
{{- define "tenantguard.exemptNamespaces" -}}
{{- $builtin := list "kube-system" "kube-public" "kube-node-lease" }}
{{- $settings := include "tenantguard.settingsSpec" . | fromJson }}
{{- $listed := $builtin }}
{{- if hasKey $settings "exemptNamespaces" }}
{{- $listed = default (list) $settings.exemptNamespaces }}
{{- end }}
{{- concat $listed $builtin .Values.webhook.exemptNamespaces (list .Release.Namespace) | uniq | toJson }}
{{- end }}

{{/* Namespaces the webhooks never see: the exempt ones. */}}
{{- define "tenantguard.excludedNamespaces" -}}
{{- include "tenantguard.exemptNamespaces" . }}
{{- end }}

{{/*
The Settings' admins as {"users": [...], "groups": [...]}; without an admins
entry the server's default, the group system:masters.
*/}}
{{- define "tenantguard.admins" -}}
{{- $settings := include "tenantguard.settingsSpec" . | fromJson }}
{{- if hasKey $settings "admins" }}
{{- $a := default (dict) $settings.admins }}
{{- toJson (dict "users" (default (list) $a.users) "groups" (default (list) $a.groups)) }}
{{- else }}
{{- toJson (dict "users" (list) "groups" (list "system:masters")) }}
{{- end }}
{{- end }}

{{/*
A webhook entry's namespaceSelector; args: root, tenants (bool).
matchExpressions are ANDed, so extra expressions from the values can only
narrow the selection, never bring an excluded namespace back. With `tenants`
only namespaces carrying a non-empty tenantguard.io/tenant label are selected
(entries for namespaced objects: rules never judge objects in platform
namespaces). For Namespace objects themselves the selector is matched against
the object's own labels, and kubernetes.io/metadata.name is set on every
namespace.
*/}}
{{- define "tenantguard.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ include "tenantguard.excludedNamespaces" .root }}
{{- if .tenants }}
  - key: tenantguard.io/tenant
    operator: Exists
  - key: tenantguard.io/tenant
    operator: NotIn
    values: [""]
{{- end }}
{{- with .root.Values.webhook.extraMatchExpressions }}
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* caBundle accepts PEM text or base64 of it; the API wants base64. */}}
{{- define "tenantguard.userCABundle" -}}
{{- $ca := required "tls.caBundle is required when tls.mode is secret" .Values.tls.caBundle | trim }}
{{- $b64 := ternary (b64enc $ca) $ca (hasPrefix "-----BEGIN" $ca) }}
{{- /* The apiserver would take any bytes and then trust no certificate at all. */}}
{{- if not (hasPrefix "-----BEGIN CERTIFICATE-----" (b64dec $b64 | trim)) }}
{{- fail "tls.caBundle must be a PEM CA certificate (-----BEGIN CERTIFICATE-----...) or the base64 of one" }}
{{- end }}
{{- $b64 }}
{{- end }}

{{/* Namespace and tenant the helm test judges a bad pod in. */}}
{{- define "tenantguard.test.tenant" -}}
{{- if .Values.tests.tenant }}
{{- .Values.tests.tenant }}
{{- else if .Values.tenants }}
{{- (first .Values.tenants).name }}
{{- else }}
{{- "tenantguard-test" }}
{{- end }}
{{- end }}

{{/*
Labels of the helm test's pod: the chart's, but with a name of its own, so
that the Deployment's selector (Service endpoints, PodDisruptionBudget,
anti-affinity, NetworkPolicy) never counts it as a tenantguard replica.
*/}}
{{- define "tenantguard.test.podLabels" -}}
{{- $labels := include "tenantguard.labels" . | fromYaml }}
{{- $_ := set $labels "app.kubernetes.io/name" (printf "%s-test" (include "tenantguard.name" .) | trunc 63 | trimSuffix "-") }}
{{- $_ = set $labels "app.kubernetes.io/component" "test" }}
{{- toYaml $labels }}
{{- end }}

{{- define "tenantguard.test.namespace" -}}
{{- default (printf "%s-test" (include "tenantguard.fullname" .)) .Values.tests.namespace }}
{{- end }}
