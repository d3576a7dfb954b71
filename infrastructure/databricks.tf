# Databricks: the workspace (VNet-injected, no public IPs on cluster nodes), the access
# connector behind Unity Catalog, the cluster the chain runs on (defined here and
# nowhere else: ADF's linked service receives its id) and the Git folder the notebooks
# run from.

resource "azurerm_databricks_access_connector" "this" {
  name                = var.access_connector_name
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  tags                = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_databricks_workspace" "this" {
  #checkov:skip=CKV_AZURE_158:Secure cluster connectivity (no public IPs, VNet injection) is used; back-end Private Link needs transit private endpoints and DNS beyond this deployment.
  #checkov:skip=CKV2_AZURE_48:DBFS root holds no lake data (the lake is its own ADLS account); customer-managed keys would be created through the Key Vault data plane, which its firewall closes to CI.
  name                        = var.databricks_workspace_name
  resource_group_name         = azurerm_resource_group.this.name
  location                    = azurerm_resource_group.this.location
  sku                         = "premium" # Unity Catalog, cluster ACLs, diagnostic logs
  managed_resource_group_name = var.databricks_managed_resource_group_name
  tags                        = var.tags

  custom_parameters {
    no_public_ip                                         = true
    virtual_network_id                                   = azurerm_virtual_network.this.id
    public_subnet_name                                   = azurerm_subnet.databricks_public.name
    private_subnet_name                                  = azurerm_subnet.databricks_private.name
    public_subnet_network_security_group_association_id  = azurerm_subnet_network_security_group_association.databricks_public.id
    private_subnet_network_security_group_association_id = azurerm_subnet_network_security_group_association.databricks_private.id
  }
}

# ---- Unity Catalog: one storage credential (the access connector), one external
# location per layer; lib/lake.py's `unity_catalog` auth relies on these.
resource "databricks_storage_credential" "lake" {
  name    = var.storage_credential_name
  comment = "ADLS Gen2 lake of openssh-lakehouse, through the access connector"

  azure_managed_identity {
    access_connector_id = azurerm_databricks_access_connector.this.id
  }
}

resource "databricks_external_location" "lake" {
  for_each = toset(var.lake_containers)

  name            = "${var.storage_credential_name}-${each.key}"
  url             = "abfss://${each.key}@${azurerm_storage_account.lake.name}.dfs.core.windows.net/"
  credential_name = databricks_storage_credential.lake.name
  comment         = "lake layer ${each.key}"

  # The connector must hold its role before Unity Catalog validates the location.
  depends_on = [azurerm_role_assignment.connector_lake, azurerm_storage_container.lake]
}

# ADF runs the notebooks as its managed identity: make it a workspace identity that may
# read and write the lake's external locations.
data "azuread_service_principal" "adf" {
  object_id = azurerm_data_factory.this.identity[0].principal_id
}

resource "databricks_service_principal" "adf" {
  application_id = data.azuread_service_principal.adf.client_id
  display_name   = var.data_factory_name
}

resource "databricks_grants" "lake" {
  for_each = databricks_external_location.lake

  external_location = each.value.id

  grant {
    principal  = databricks_service_principal.adf.application_id
    privileges = ["READ_FILES", "WRITE_FILES"]
  }
}

# ---- Unity Catalog names (the notebooks' `catalog`/`schema` parameters, lib/lake.py): the
# lake's schema in an existing catalog, managed in the gold container, with the volume `lake`
# for its files. ADF's identity may use the catalog, and create, read and write in the schema.
resource "databricks_schema" "lake" {
  count = var.uc_catalog == "" ? 0 : 1

  catalog_name = var.uc_catalog
  name         = var.uc_schema
  comment      = "openssh-lakehouse: tables <layer>_<table> and the volume of its files"
  storage_root = "${databricks_external_location.lake["gold"].url}unity_catalog/${var.uc_schema}"
}

resource "databricks_volume" "lake" {
  count = var.uc_catalog == "" ? 0 : 1

  name         = "lake" # lib/lake.py VOLUME
  catalog_name = var.uc_catalog
  schema_name  = databricks_schema.lake[0].name
  volume_type  = "MANAGED"
  comment      = "landed raw logs, quality reports and the final CSVs, in the lake's layout"
}

resource "databricks_grant" "catalog" {
  count = var.uc_catalog == "" ? 0 : 1

  catalog    = var.uc_catalog
  principal  = databricks_service_principal.adf.application_id
  privileges = ["USE_CATALOG"]
}

resource "databricks_grants" "schema" {
  count = var.uc_catalog == "" ? 0 : 1

  schema = databricks_schema.lake[0].id

  grant {
    principal  = databricks_service_principal.adf.application_id
    privileges = ["USE_SCHEMA", "CREATE_TABLE", "SELECT", "MODIFY", "READ_VOLUME", "WRITE_VOLUME"]
  }
}

# ---- the cluster, as the seed specifies it
data "databricks_spark_version" "lts" {
  long_term_support = true
}

resource "databricks_cluster" "pipeline" {
  cluster_name            = var.cluster_name
  spark_version           = data.databricks_spark_version.lts.id
  node_type_id            = var.cluster_node_type
  driver_node_type_id     = var.cluster_node_type
  num_workers             = var.cluster_workers
  autotermination_minutes = var.cluster_autotermination_minutes
  # Standard (shared) access mode: Unity Catalog, several identities (ADF, people).
  data_security_mode = "USER_ISOLATION"
  custom_tags        = var.tags

  # The same settings lib/spark.py applies to every session (tests/test_infra.py checks).
  spark_conf = {
    "spark.sql.adaptive.enabled"                    = "true"
    "spark.sql.adaptive.coalescePartitions.enabled" = "true"
  }

  # The notebooks log to the MLflow server on AKS (tracking_uri), behind the ingress's
  # basic auth; the credentials come from the Key Vault-backed secret scope.
  spark_env_vars = {
    MLFLOW_TRACKING_USERNAME = "{{secrets/${var.secret_scope}/mlflow-username}}"
    MLFLOW_TRACKING_PASSWORD = "{{secrets/${var.secret_scope}/mlflow-password}}"
  }

  dynamic "library" {
    for_each = toset(var.cluster_pypi_packages)
    content {
      pypi {
        package = library.value
      }
    }
  }
}

resource "databricks_permissions" "cluster" {
  cluster_id = databricks_cluster.pipeline.id

  access_control {
    service_principal_name = databricks_service_principal.adf.application_id
    permission_level       = "CAN_RESTART"
  }
}

# ---- the code: a Git folder the deploy workflow moves to the released commit
resource "databricks_repo" "project" {
  url    = var.git_repo_url
  path   = var.repo_path
  branch = var.git_branch
}

resource "databricks_permissions" "repo" {
  repo_id = databricks_repo.project.id

  access_control {
    service_principal_name = databricks_service_principal.adf.application_id
    permission_level       = "CAN_READ"
  }
}

# ---- the AI/BI dashboards (dashboards/, deployed by the deploy workflow): their folder, and
# their compute, a small serverless SQL warehouse that stops when idle
resource "databricks_directory" "dashboards" {
  path = var.dashboard_path
}

resource "databricks_sql_endpoint" "dashboards" {
  name                      = var.dashboard_warehouse_name
  cluster_size              = "2X-Small"
  min_num_clusters          = 1
  max_num_clusters          = 1
  auto_stop_mins            = 10
  enable_serverless_compute = true
  warehouse_type            = "PRO"

  tags {
    dynamic "custom_tags" {
      for_each = var.tags
      content {
        key   = custom_tags.key
        value = custom_tags.value
      }
    }
  }
}
