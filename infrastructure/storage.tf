# The lake: one ADLS Gen2 account (hierarchical namespace), one filesystem per layer.
# Entra ID only (no shared keys, no anonymous access), TLS 1.2+, and a firewall that
# admits the Databricks and AKS subnets, the access connector and the listed operator IPs.

resource "azurerm_storage_account" "lake" {
  #checkov:skip=CKV_AZURE_59:Public endpoint kept behind a default-deny firewall so operators can land logs with `python -m lib upload` from the listed IPs; compute reaches it by service endpoint.
  #checkov:skip=CKV2_AZURE_33:No private endpoint for the same reason: the firewall admits the subnets, the access connector and the operator IPs only.
  #checkov:skip=CKV2_AZURE_1:Platform-managed keys with infrastructure encryption; customer-managed keys would be created through the Key Vault data plane, which its firewall closes to CI.
  #checkov:skip=CKV_AZURE_33:The lake uses no queues; blob reads, writes and deletes are logged by the diagnostic setting on blobServices/default.
  name                              = var.storage_account_name
  resource_group_name               = azurerm_resource_group.this.name
  location                          = azurerm_resource_group.this.location
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.storage_replication_type
  is_hns_enabled                    = true
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  cross_tenant_replication_enabled  = false
  infrastructure_encryption_enabled = true
  tags                              = var.tags

  identity {
    type = "SystemAssigned"
  }

  # With shared keys off only user-delegation SAS can exist; keep them short-lived anyway.
  sas_policy {
    expiration_period = "0.01:00:00"
    expiration_action = "Log"
  }

  blob_properties {
    delete_retention_policy {
      days = var.blob_soft_delete_days
    }
    container_delete_retention_policy {
      days = var.blob_soft_delete_days
    }
  }

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices", "Logging", "Metrics"]
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = concat(local.databricks_subnet_ids, [azurerm_subnet.aks.id])

    # Unity Catalog reaches the lake as the access connector: a resource instance rule.
    private_link_access {
      endpoint_resource_id = azurerm_databricks_access_connector.this.id
    }
  }
}

# Created through Resource Manager (storage_account_id), so Terraform needs neither a
# storage key nor a path through the firewall.
resource "azurerm_storage_container" "lake" {
  #checkov:skip=CKV2_AZURE_21:The check wants Log Analytics storage insights, which need an account key; shared keys are off and blob logs go through the diagnostic setting (monitoring.tf).
  for_each = toset(var.lake_containers)

  name                  = each.key
  storage_account_id    = azurerm_storage_account.lake.id
  container_access_type = "private"
}

# Unity Catalog's managed identity reads and writes every layer.
resource "azurerm_role_assignment" "connector_lake" {
  scope                = azurerm_storage_account.lake.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_databricks_access_connector.this.identity[0].principal_id
}
