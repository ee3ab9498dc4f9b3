{{/* Chart name, truncated to 63 characters. */}}
{{- define "safe-synthesizer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name: <release>-<chart> unless the release name already holds the chart name. */}}
{{- define "safe-synthesizer.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "safe-synthesizer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "safe-synthesizer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "safe-synthesizer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "safe-synthesizer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: safe-synthesizer
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "safe-synthesizer.operatorServiceAccount" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "safe-synthesizer.fullname" .)) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "safe-synthesizer.jobServiceAccount" -}}
{{- default (printf "%s-job" (include "safe-synthesizer.fullname" .)) .Values.jobs.serviceAccount.name -}}
{{- end -}}

{{/* Namespaces that get the job ServiceAccount and its Role, as a YAML list. */}}
{{- define "safe-synthesizer.jobNamespaces" -}}
{{- if .Values.jobs.serviceAccount.namespaces -}}
{{- toYaml (uniq .Values.jobs.serviceAccount.namespaces) -}}
{{- else if .Values.watchNamespaces -}}
{{- toYaml (uniq .Values.watchNamespaces) -}}
{{- else -}}
{{- toYaml (list .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{- define "safe-synthesizer.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "safe-synthesizer.runnerImage" -}}
{{- printf "%s:%s" .Values.runnerImage.repository (default .Chart.AppVersion .Values.runnerImage.tag) -}}
{{- end -}}

{{/* The operator's rules on CRs and children (a ClusterRole or one Role per watched namespace). */}}{{- define "safe-synthesizer.operatorRules" -}}
# The CRs: watch, status, TTL deletion; kopf keeps its bookkeeping in annotations (patch).
- apiGroups: [safesynthesizer.io]
  resources: [safesynthesizerjobs]
  verbs: [get, list, watch, patch, delete]
- apiGroups: [safesynthesizer.io]
  resources: [safesynthesizerjobs/status]
  verbs: [get, patch]
# blockOwnerDeletion on the children needs this where OwnerReferencesPermissionEnforcement is on.
- apiGroups: [safesynthesizer.io]
  resources: [safesynthesizerjobs/finalizers]
  verbs: [update]
# The runner Job per CR, and the ConfigMap with its job document.
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, delete]
# Read-only: pod state and termination messages (watched: a cancelled run's last message comes
# with its pod's deletion); whether the job ServiceAccount exists.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
# No secrets: runner pods reference them (secretKeyRef), the kubelet resolves them.
{{- end -}}

