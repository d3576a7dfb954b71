# Key Vault: RBAC mode, purge protection, 90-day soft delete, firewall. Secrets are put
# in by people (docs/deployment.md), never by Terraform, so none reaches the state.
# Readers: the Databricks secret scope and the API (through the CSI driver, aks.tf).

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV2_AZURE_32:Reached through its firewall (Databricks and AKS subnets by service endpoint, trusted Azure services for the secret scope, operator IPs), so operators can set secrets without a VPN.
  name                          = var.key_vault_name
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true # restricted by network_acls below
  tags                          = var.tags

  network_acls {
    default_action             = "Deny"
    bypass                     = "AzureServices" # Databricks' Key Vault-backed secret scope
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = concat(local.databricks_subnet_ids, [azurerm_subnet.aks.id])
  }
}

# The Azure Databricks first-party application reads the Key Vault-backed secret scope.
data "azuread_service_principal" "azure_databricks" {
  client_id = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"
}

resource "azurerm_role_assignment" "databricks_secrets" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = data.azuread_service_principal.azure_databricks.object_id
}
