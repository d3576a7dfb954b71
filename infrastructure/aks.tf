# Images and the cluster that serves MLflow and the pipeline API (kubernetes/*.yaml).
# Both are private: the registry is reached through a private endpoint, the API server
# only from the network. The deploy workflow therefore builds with `az acr build` (ACR
# Tasks, admitted by network_rule_bypass_for_tasks_enabled) and applies manifests with
# `az aks command invoke`, both through Azure Resource Manager.

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_165:One region: the registry lives beside the only AKS cluster; geo-replication adds nothing until a second region exists.
  #checkov:skip=CKV_AZURE_166:Quarantine holds every pushed image until a scanner releases it; no scanner is wired in, so images would never become pullable.
  #checkov:skip=CKV_AZURE_164:Docker Content Trust (Notary v1) is deprecated in ACR; signing would use Notation, which is outside this deployment.
  name                                  = var.container_registry_name
  resource_group_name                   = azurerm_resource_group.this.name
  location                              = azurerm_resource_group.this.location
  sku                                   = "Premium" # private endpoint, retention, zone redundancy
  admin_enabled                         = false
  anonymous_pull_enabled                = false
  public_network_access_enabled         = false
  network_rule_bypass_option            = "AzureServices"
  network_rule_bypass_for_tasks_enabled = true
  data_endpoint_enabled                 = true
  export_policy_enabled                 = false
  zone_redundancy_enabled               = true
  retention_policy_in_days              = 14
  tags                                  = var.tags
}

resource "azurerm_private_dns_zone" "acr" {
  name                = "privatelink.azurecr.io"
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "acr" {
  name                  = "acr"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = azurerm_private_dns_zone.acr.name
  virtual_network_id    = azurerm_virtual_network.this.id
  tags                  = var.tags
}

resource "azurerm_private_endpoint" "acr" {
  name                = "${var.container_registry_name}-pe"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "registry"
    private_connection_resource_id = azurerm_container_registry.this.id
    subresource_names              = ["registry"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "acr"
    private_dns_zone_ids = [azurerm_private_dns_zone.acr.id]
  }
}

resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_117:Disks use platform-managed keys with encryption at host; customer-managed keys would be created through the Key Vault data plane, which its firewall closes to CI.
  name                      = var.aks_name
  location                  = azurerm_resource_group.this.location
  resource_group_name       = azurerm_resource_group.this.name
  dns_prefix                = var.aks_name
  sku_tier                  = "Standard"
  private_cluster_enabled   = true
  automatic_upgrade_channel = "stable"
  node_os_upgrade_channel   = "NodeImage"
  local_account_disabled    = true
  oidc_issuer_enabled       = true
  workload_identity_enabled = true
  azure_policy_enabled      = true
  tags                      = var.tags

  identity {
    type = "SystemAssigned"
  }

  # Kubernetes RBAC decided by Entra ID roles; no local admin certificate.
  role_based_access_control_enabled = true
  azure_active_directory_role_based_access_control {
    azure_rbac_enabled     = true
    admin_group_object_ids = var.aks_admin_group_object_ids
  }

  # System pods only; the workloads run on the autoscaled "apps" pool below.
  default_node_pool {
    name                         = "system"
    vm_size                      = var.aks_vm_size
    vnet_subnet_id               = azurerm_subnet.aks.id
    only_critical_addons_enabled = true
    auto_scaling_enabled         = true
    min_count                    = 1
    max_count                    = 3
    max_pods                     = 50
    os_disk_type                 = "Ephemeral"
    host_encryption_enabled      = true
    zones                        = ["1", "2", "3"]
    temporary_name_for_rotation  = "rotation"

    upgrade_settings {
      max_surge = "33%"
    }
  }

  # Azure CNI overlay with Cilium: NetworkPolicy objects are enforced.
  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_policy      = "cilium"
    network_data_plane  = "cilium"
  }

  oms_agent {
    log_analytics_workspace_id      = azurerm_log_analytics_workspace.this.id
    msi_auth_for_monitoring_enabled = true
  }

  # Secrets Store CSI driver: the API's token comes from Key Vault (kubernetes/secret-provider.yaml).
  key_vault_secrets_provider {
    secret_rotation_enabled = true
  }

  # The managed NGINX ingress controller (class webapprouting.kubernetes.azure.com).
  web_app_routing {
    dns_zone_ids = []
  }
}

resource "azurerm_kubernetes_cluster_node_pool" "apps" {
  name                    = "apps"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.this.id
  vm_size                 = var.aks_vm_size
  vnet_subnet_id          = azurerm_subnet.aks.id
  mode                    = "User"
  auto_scaling_enabled    = true
  min_count               = var.aks_min_nodes
  max_count               = var.aks_max_nodes
  max_pods                = 50
  os_disk_type            = "Ephemeral"
  host_encryption_enabled = true
  zones                   = ["1", "2", "3"]
  tags                    = var.tags

  upgrade_settings {
    max_surge = "33%"
  }
}

# Nodes pull images from the registry as the kubelet identity.
resource "azurerm_role_assignment" "aks_acr_pull" {
  scope                            = azurerm_container_registry.this.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id
  skip_service_principal_aad_check = true
}

# The deploy identity builds images (ACR Tasks push as the registry) and applies the manifests.
resource "azurerm_role_assignment" "deployer_acr_push" {
  scope                = azurerm_container_registry.this.id
  role_definition_name = "AcrPush"
  principal_id         = data.azurerm_client_config.current.object_id
}

resource "azurerm_role_assignment" "deployer_aks" {
  scope                = azurerm_kubernetes_cluster.this.id
  role_definition_name = "Azure Kubernetes Service RBAC Cluster Admin"
  principal_id         = data.azurerm_client_config.current.object_id
}

# The API's own identity (workload identity, no secret): it reads the gold layer and
# the API token in Key Vault, and nothing else.
resource "azurerm_user_assigned_identity" "api" {
  name                = "${var.aks_name}-pipeline-api"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "api" {
  name                      = "pipeline-api"
  user_assigned_identity_id = azurerm_user_assigned_identity.api.id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = azurerm_kubernetes_cluster.this.oidc_issuer_url
  subject                   = "system:serviceaccount:${var.api_namespace}:${var.api_service_account}"
}

resource "azurerm_role_assignment" "api_gold_reader" {
  scope                = azurerm_storage_container.lake["gold"].resource_manager_id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = azurerm_user_assigned_identity.api.principal_id
}

resource "azurerm_role_assignment" "api_secrets" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.api.principal_id
}
