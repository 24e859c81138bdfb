# GKE for fraudctl: the cluster the manifests in k8s/ run on, with Workload Identity so the
# pods' Kubernetes service accounts act as the Google service accounts below (no keys);
# the DVC remote's bucket; the registry the deploy workflow pushes to; and the Filestore
# CSI driver that gives the Dask recipe its shared ReadWriteMany project volume
# (k8s/dask/00-project-volume.yaml, storage class standard-rwx).

locals {
  # Kubernetes service account -> Google service account (k8s/10-serviceaccount.yaml,
  # k8s/dask/10-serviceaccount.yaml name these in their iam.gke.io annotations)
  workloads = {
    "fraudctl-api"  = "Serves the model; reads registry artifacts and the DVC bucket."
    "fraudctl-dask" = "Runs the pipeline on Dask; reads and writes the DVC bucket."
  }
}

resource "google_project_service" "apis" {
  for_each = toset([
    "container.googleapis.com",
    "artifactregistry.googleapis.com",
    "file.googleapis.com",
    "storage.googleapis.com",
    "iam.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}

resource "google_service_account" "nodes" {
  account_id   = "${var.cluster_name}-nodes"
  display_name = "GKE nodes of ${var.cluster_name} (least privilege: logs, metrics, image pulls)"
}

resource "google_project_iam_member" "nodes" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
  ])
  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.nodes.email}"
}

resource "google_container_cluster" "main" {
  name     = var.cluster_name
  location = var.region

  # The default pool is replaced by the managed one below.
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = true

  release_channel {
    channel = "REGULAR"
  }

  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }

  # Kubernetes RBAC bound to Google Groups (members of gke-security-groups@<domain>).
  authenticator_groups_config {
    security_group = var.rbac_security_group
  }

  # Applies to the bootstrap pool only (removed at once); the managed pool sets its own.
  node_config {
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }
  }

  networking_mode = "VPC_NATIVE"
  ip_allocation_policy {}

  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = "172.16.0.0/28"
  }

  master_authorized_networks_config {
    cidr_blocks {
      cidr_block   = var.master_authorized_cidr
      display_name = "ci-and-operators"
    }
  }

  network_policy {
    enabled = true
  }

  addons_config {
    gcp_filestore_csi_driver_config {
      enabled = true
    }
    http_load_balancing {
      disabled = false
    }
    network_policy_config {
      disabled = false
    }
  }

  binary_authorization {
    evaluation_mode = "PROJECT_SINGLETON_POLICY_ENFORCE"
  }

  enable_intranode_visibility = true
  enable_shielded_nodes       = true

  master_auth {
    client_certificate_config {
      issue_client_certificate = false
    }
  }

  logging_service    = "logging.googleapis.com/kubernetes"
  monitoring_service = "monitoring.googleapis.com/kubernetes"

  resource_labels = {
    app = "fraudctl"
  }

  depends_on = [google_project_service.apis]
}

resource "google_container_node_pool" "main" {
  name     = "${var.cluster_name}-pool"
  cluster  = google_container_cluster.main.id
  location = var.region

  autoscaling {
    min_node_count = var.min_nodes
    max_node_count = var.max_nodes
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }

  node_config {
    machine_type    = var.node_machine_type
    image_type      = "COS_CONTAINERD"
    service_account = google_service_account.nodes.email
    oauth_scopes    = ["https://www.googleapis.com/auth/cloud-platform"]

    workload_metadata_config {
      mode = "GKE_METADATA"
    }

    shielded_instance_config {
      enable_secure_boot          = true
      enable_integrity_monitoring = true
    }

    metadata = {
      disable-legacy-endpoints = "true"
    }

    labels = {
      app = "fraudctl"
    }
  }
}

resource "google_storage_bucket" "dvc" {
  name                        = var.dvc_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # DVC's cache is content-addressed: an old object version is never read again.
  lifecycle_rule {
    condition {
      num_newer_versions = 3
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket = "${var.dvc_bucket}-logs"
  }
}

resource "google_artifact_registry_repository" "images" {
  repository_id = var.artifact_repository
  location      = var.region
  format        = "DOCKER"
  description   = "The fraudctl API image (Dockerfile), pushed by .github/workflows/deploy.yml."

  docker_config {
    immutable_tags = true
  }

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "workload" {
  for_each     = local.workloads
  account_id   = each.key
  display_name = each.value
}

# Workload Identity: the Kubernetes service account may act as its Google one.
resource "google_service_account_iam_member" "workload_identity" {
  for_each           = local.workloads
  service_account_id = google_service_account.workload[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.namespace}/${each.key}]"
}

resource "google_storage_bucket_iam_member" "api_reads_dvc" {
  bucket = google_storage_bucket.dvc.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.workload["fraudctl-api"].email}"
}

resource "google_storage_bucket_iam_member" "dask_writes_dvc" {
  bucket = google_storage_bucket.dvc.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.workload["fraudctl-dask"].email}"
}
