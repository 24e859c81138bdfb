output "cluster_name" {
  description = "For gcloud container clusters get-credentials (deploy.yml: vars.GKE_CLUSTER)."
  value       = google_container_cluster.main.name
}

output "cluster_location" {
  description = "The cluster's region (deploy.yml: vars.GCP_REGION)."
  value       = google_container_cluster.main.location
}

output "dvc_remote_url" {
  description = "What .dvc/config's remote url should say."
  value       = "gs://${google_storage_bucket.dvc.name}/fraudctl"
}

output "image_repository" {
  description = "Where the API image goes (deploy.yml builds REPOSITORY/IMAGE_NAME:SHA)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "workload_service_accounts" {
  description = "The iam.gke.io/gcp-service-account annotation of each Kubernetes service account."
  value       = { for name, account in google_service_account.workload : name => account.email }
}
