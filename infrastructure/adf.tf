# Data Factory: the orchestrator. Its system-assigned identity authenticates the
# AzureDatabricks linked service (adf/linked_service_databricks.json, MSI with
# workspaceResourceId); Contributor on the workspace is what lets it run jobs there.
# The pipeline, linked service and trigger are published from adf/ by the deploy workflow.

resource "azurerm_data_factory" "this" {
  #checkov:skip=CKV_AZURE_103:The factory's definitions live in adf/ of this repository and CI publishes them; ADF Studio's Git mode would be a second source of truth.
  #checkov:skip=CKV2_AZURE_15:The factory holds no data or credentials (MSI only); customer-managed keys would be created through the Key Vault data plane, which its firewall closes to CI.
  name                            = var.data_factory_name
  location                        = azurerm_resource_group.this.location
  resource_group_name             = azurerm_resource_group.this.name
  managed_virtual_network_enabled = true
  public_network_enabled          = false
  tags                            = var.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_role_assignment" "adf_databricks" {
  scope                = azurerm_databricks_workspace.this.id
  role_definition_name = "Contributor"
  principal_id         = azurerm_data_factory.this.identity[0].principal_id
}
