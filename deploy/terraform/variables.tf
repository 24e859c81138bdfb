variable "project_id" {
  description = "The Google Cloud project everything is created in."
  type        = string
}

variable "region" {
  description = "Region of the cluster, the bucket, the registry and the Filestore shares."
  type        = string
  default     = "europe-west1"
}

variable "cluster_name" {
  description = "The GKE cluster the manifests in k8s/ are applied to."
  type        = string
  default     = "fraudctl"
}

variable "node_machine_type" {
  description = "Machine type of the node pool (the API's pods ask for 0.5-1 CPU each)."
  type        = string
  default     = "e2-standard-4"
}

variable "min_nodes" {
  description = "Fewest nodes per zone (the HPA keeps at least two API pods)."
  type        = number
  default     = 1
}

variable "max_nodes" {
  description = "Most nodes per zone (room for the HPA's 20 API pods and a Dask cluster)."
  type        = number
  default     = 5
}

variable "dvc_bucket" {
  description = "Name of the GCS bucket behind the DVC remote (.dvc/config: gs://<bucket>/fraudctl)."
  type        = string
}

variable "artifact_repository" {
  description = "Artifact Registry repository the deploy workflow pushes the API image to."
  type        = string
  default     = "fraudctl"
}

variable "namespace" {
  description = "Kubernetes namespace of the manifests (k8s/00-namespace.yaml)."
  type        = string
  default     = "fraudctl"
}

variable "master_authorized_cidr" {
  description = "The one network allowed to reach the cluster's control plane (your CI or VPN)."
  type        = string
}

variable "rbac_security_group" {
  description = "Google Group whose nested groups get Kubernetes RBAC (gke-security-groups@<your domain>)."
  type        = string
}
