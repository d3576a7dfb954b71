# Log Analytics and the diagnostic settings of the main resources.

resource "azurerm_log_analytics_workspace" "this" {
  name                         = var.log_analytics_workspace_name
  location                     = azurerm_resource_group.this.location
  resource_group_name          = azurerm_resource_group.this.name
  sku                          = "PerGB2018"
  retention_in_days            = var.log_retention_days
  local_authentication_enabled = false
  tags                         = var.tags
}

locals {
  # target => metric category (null: the resource type exports no metrics to diagnostics)
  diagnostics = {
    lake_blobs   = { id = "${azurerm_storage_account.lake.id}/blobServices/default", metrics = "Transaction" }
    databricks   = { id = azurerm_databricks_workspace.this.id, metrics = null }
    data_factory = { id = azurerm_data_factory.this.id, metrics = "AllMetrics" }
    key_vault    = { id = azurerm_key_vault.this.id, metrics = "AllMetrics" }
    registry     = { id = azurerm_container_registry.this.id, metrics = "AllMetrics" }
    aks          = { id = azurerm_kubernetes_cluster.this.id, metrics = "AllMetrics" }
  }
}

resource "azurerm_monitor_diagnostic_setting" "this" {
  for_each = local.diagnostics

  name                       = "to-log-analytics"
  target_resource_id         = each.value.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id

  enabled_log {
    category_group = "allLogs"
  }

  dynamic "enabled_metric" {
    for_each = each.value.metrics == null ? [] : [each.value.metrics]
    content {
      category = enabled_metric.value
    }
  }
}
