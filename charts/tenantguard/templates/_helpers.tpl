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

{{/* TLS: the Secret the server reads tls.crt and tls.key from. */}}
{{- define "tenantguard.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" }}
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
Namespaces the webhooks never see. The built-in ones and the release namespace
are always appended, whatever the values say: if tenantguard judged its own
namespace (or kube-system) while it is down, a Fail policy could block the very
pods that would bring it back, and the cluster would lock itself out.
*/}}
{{- define "tenantguard.excludedNamespaces" -}}
{{- $always := list "kube-system" "kube-public" "kube-node-lease" .Release.Namespace }}
{{- concat .Values.webhook.exemptNamespaces $always | uniq | toJson }}
{{- end }}

{{/*
Shared by both webhooks. matchExpressions are ANDed, so extra expressions from
the values can only narrow the selection, never bring an excluded namespace back.
For Namespace objects themselves the selector is matched against the object's
own labels, and kubernetes.io/metadata.name is set on every namespace.
*/}}
{{- define "tenantguard.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ include "tenantguard.excludedNamespaces" . }}
{{- with .Values.webhook.extraMatchExpressions }}
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* caBundle accepts PEM text or base64 of it; the API wants base64. */}}
{{- define "tenantguard.userCABundle" -}}
{{- $ca := required "tls.caBundle is required when tls.mode is secret" .Values.tls.caBundle | trim }}
{{- if hasPrefix "-----BEGIN" $ca }}{{ b64enc $ca }}{{ else }}{{ $ca }}{{ end }}
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

{{- define "tenantguard.test.namespace" -}}
{{- default (printf "%s-test" (include "tenantguard.fullname" .)) .Values.tests.namespace }}
{{- end }}
