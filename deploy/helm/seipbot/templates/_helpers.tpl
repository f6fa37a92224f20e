{{/* The release's full name, cut to the 63 characters a DNS label allows. */}}
{{- define "seipbot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the pods; they never change across upgrades. */}}
{{- define "seipbot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "seipbot.labels" -}}
{{ include "seipbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "seipbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "seipbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "seipbot.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The secrets to mount: the configured ones, plus the store URL with Redis.
Each becomes a file /run/secrets/seipbot/<env> and the variable <env>_FILE.
*/}}
{{- define "seipbot.secrets" -}}
{{- $all := .Values.secrets -}}
{{- if eq .Values.store.kind "redis" -}}
{{- $all = append $all (dict "env" "SEIPBOT_STORE_URL" "secretName" .Values.store.urlSecret.name "key" .Values.store.urlSecret.key) -}}
{{- end -}}
{{- toJson $all -}}
{{- end -}}
