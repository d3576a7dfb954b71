# Every name and size is a variable; terraform.tfvars.example shows a complete set.

variable "location" {
  description = "Azure region for every resource."
  type        = string
  default     = "westeurope"
}

variable "resource_group_name" {
  description = "Resource group that holds the whole deployment."
  type        = string
}

variable "tags" {
  description = "Tags put on every resource."
  type        = map(string)
  default     = { project = "openssh-lakehouse" }
}

# ---- network
variable "vnet_address_space" {
  description = "Address space of the virtual network shared by Databricks and AKS."
  type        = string
  default     = "10.40.0.0/16"
}

variable "databricks_public_subnet_prefix" {
  description = "Databricks host (\"public\") subnet; with no_public_ip the hosts get no public address."
  type        = string
  default     = "10.40.0.0/22"
}

variable "databricks_private_subnet_prefix" {
  description = "Databricks container (\"private\") subnet."
  type        = string
  default     = "10.40.4.0/22"
}

variable "aks_subnet_prefix" {
  description = "Subnet of the AKS nodes."
  type        = string
  default     = "10.40.8.0/22"
}

variable "endpoints_subnet_prefix" {
  description = "Subnet of the private endpoints."
  type        = string
  default     = "10.40.12.0/24"
}

variable "allowed_ip_ranges" {
  description = "Public CIDRs of operators allowed through the lake and Key Vault firewalls (for `python -m lib upload` and setting secrets)."
  type        = list(string)
  default     = []
}

# ---- lake
variable "storage_account_name" {
  description = "ADLS Gen2 account of the lake (3-24 lowercase letters and digits, globally unique)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.storage_account_name))
    error_message = "3-24 lowercase letters and digits."
  }
}

variable "storage_replication_type" {
  description = "Replication of the lake account."
  type        = string
  default     = "GZRS"
}

variable "lake_containers" {
  description = "Filesystems of the lake, one per layer (lib/lake.py LAYERS)."
  type        = list(string)
  default     = ["bronze", "silver", "gold", "models"]
}

variable "blob_soft_delete_days" {
  description = "Days deleted blobs and containers stay recoverable."
  type        = number
  default     = 14
}

# ---- Databricks
variable "databricks_workspace_name" {
  description = "Databricks workspace name."
  type        = string
}

variable "databricks_managed_resource_group_name" {
  description = "Resource group Azure Databricks creates for the workspace's own resources."
  type        = string
}

variable "access_connector_name" {
  description = "Databricks access connector (the managed identity behind Unity Catalog external locations)."
  type        = string
}

variable "cluster_name" {
  description = "The all-purpose cluster the ADF chain runs on."
  type        = string
  default     = "openssh-lakehouse"
}

variable "cluster_node_type" {
  description = "Driver and worker VM size."
  type        = string
  default     = "Standard_DS3_v2"
}

variable "cluster_workers" {
  description = "Number of workers."
  type        = number
  default     = 2
}

variable "cluster_autotermination_minutes" {
  description = "Idle minutes before the cluster stops."
  type        = number
  default     = 30
}

variable "cluster_pypi_packages" {
  description = "Libraries installed on the cluster: the pins of requirements.txt the notebooks need beyond the runtime (tests/test_infra.py keeps them equal)."
  type        = list(string)
  default     = ["scikit-learn==1.9.1", "mlflow==3.17.2"]
}

variable "git_repo_url" {
  description = "HTTPS URL of this repository, checked out as a Databricks Git folder."
  type        = string
}

variable "git_branch" {
  description = "Branch the Git folder follows; the deploy workflow moves it to the released commit."
  type        = string
  default     = "main"
}

variable "repo_path" {
  description = "Workspace path of the Git folder (the ADF pipeline's repo_path parameter)."
  type        = string
  default     = "/Repos/data-platform/openssh-lakehouse"
}

variable "dashboard_path" {
  description = "Workspace folder the deploy workflow imports the AI/BI dashboards (dashboards/) into."
  type        = string
  default     = "/Shared/openssh-lakehouse"
}

variable "dashboard_warehouse_name" {
  description = "Name of the SQL warehouse the dashboards are published on."
  type        = string
  default     = "openssh-dashboards"
}

variable "secret_scope" {
  description = "Key Vault-backed Databricks secret scope (created once by a person, docs/deployment.md); the ADF pipeline's secret_scope parameter."
  type        = string
  default     = "openssh-lakehouse"
}

variable "storage_credential_name" {
  description = "Unity Catalog storage credential backed by the access connector."
  type        = string
  default     = "openssh-lakehouse-lake"
}

variable "uc_catalog" {
  description = "Existing Unity Catalog catalog for the lake's schema and volume (the notebooks' `catalog` parameter); \"\" = tables by path only."
  type        = string
  default     = ""
}

variable "uc_schema" {
  description = "Schema of the lake's tables (<layer>_<table>) and of its volume `lake` (the notebooks' `schema` parameter)."
  type        = string
  default     = "openssh"
}

# ---- orchestration, secrets, images, cluster
variable "data_factory_name" {
  description = "Data Factory name (globally unique)."
  type        = string
}

variable "key_vault_name" {
  description = "Key Vault name (3-24 characters, globally unique)."
  type        = string
}

variable "container_registry_name" {
  description = "Container registry name (5-50 alphanumerics, globally unique)."
  type        = string
}

variable "aks_name" {
  description = "AKS cluster name."
  type        = string
}

variable "aks_admin_group_object_ids" {
  description = "Entra ID groups that administer the AKS cluster (local accounts are disabled)."
  type        = list(string)
  default     = []
}

variable "aks_vm_size" {
  description = "VM size of the AKS node pool."
  type        = string
  default     = "Standard_D4s_v5"
}

variable "aks_min_nodes" {
  description = "Autoscaler minimum."
  type        = number
  default     = 2
}

variable "aks_max_nodes" {
  description = "Autoscaler maximum."
  type        = number
  default     = 5
}

variable "api_namespace" {
  description = "Kubernetes namespace of the API and MLflow (kubernetes/*.yaml)."
  type        = string
  default     = "openssh-lakehouse"
}

variable "api_service_account" {
  description = "Kubernetes service account of the API, federated with its managed identity."
  type        = string
  default     = "pipeline-api"
}

variable "log_analytics_workspace_name" {
  description = "Log Analytics workspace receiving the diagnostic logs."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the Log Analytics workspace."
  type        = number
  default     = 90
}
