//! create-scope, list-scopes, delete-scope.

use clap::{Args, ValueEnum};

use super::{ScopeName, check_scope_name, from_options_or_positionals, is_blank, print_reply};
use crate::api::{self, ScopeBackend};
use crate::cli::{Context, usage_error};
use crate::output::{Table, truncate_name};

#[derive(Args, Debug)]
pub struct CreateScope {
    /// Name of the new scope: letters, digits, '-', '_', '.' and '@', at most 128
    #[arg(long)]
    scope: Option<String>,

    /// Principal that gets MANAGE instead of you; the service accepts only `users` (everyone)
    #[arg(long, value_name = "PRINCIPAL")]
    initial_manage_principal: Option<String>,

    /// Where the scope keeps its secrets
    #[arg(long, value_enum, ignore_case = true, value_name = "TYPE")]
    scope_backend_type: Option<BackendType>,

    /// Azure resource ID of the Key Vault (only with AZURE_KEYVAULT)
    #[arg(long, value_name = "ID")]
    resource_id: Option<String>,

    /// DNS name of the Key Vault, like https://NAME.vault.azure.net/ (only with AZURE_KEYVAULT)
    #[arg(long, value_name = "URL")]
    dns_name: Option<String>,

    /// Succeed without a change when a scope of that name already exists
    #[arg(long)]
    if_not_exists: bool,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum BackendType {
    /// Secrets stored by Databricks (the default)
    #[value(name = "DATABRICKS")]
    Databricks,
    /// A read-only view of an Azure Key Vault
    #[value(name = "AZURE_KEYVAULT")]
    AzureKeyvault,
}

impl CreateScope {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let backend = self.backend()?;
        let [scope] = from_options_or_positionals(["scope"], [self.scope], [self.scope_argument])?;
        check_scope_name(&scope)?;
        if self
            .initial_manage_principal
            .as_deref()
            .is_some_and(is_blank)
        {
            return Err(usage_error(
                "--initial-manage-principal is empty or blank: give a principal (the service \
                 accepts only `users`), or leave the option out to get MANAGE yourself",
            ));
        }
        let connection = context.connect()?;
        let request = api::CreateScope {
            scope,
            initial_manage_principal: self.initial_manage_principal,
            backend,
        };
        match connection.client.create_scope(&request).await {
            Err(error)
                if self.if_not_exists && error.error_code() == Some("RESOURCE_ALREADY_EXISTS") =>
            {
                Ok(())
            }
            result => result.map_err(|error| connection.explain(error)),
        }
    }

    fn backend(&self) -> anyhow::Result<ScopeBackend> {
        let key_vault = self.scope_backend_type == Some(BackendType::AzureKeyvault);
        match (&self.resource_id, &self.dns_name) {
            (Some(resource_id), Some(dns_name)) if key_vault => Ok(ScopeBackend::AzureKeyVault {
                resource_id: resource_id.clone(),
                dns_name: dns_name.clone(),
            }),
            (None, None) if !key_vault => Ok(ScopeBackend::Databricks),
            _ if key_vault => Err(usage_error(
                "--scope-backend-type AZURE_KEYVAULT needs both --resource-id and --dns-name",
            )),
            _ => Err(usage_error(
                "--resource-id and --dns-name are only for Azure Key Vault-backed scopes: \
                 add --scope-backend-type AZURE_KEYVAULT",
            )),
        }
    }
}

#[derive(Args, Debug)]
pub struct ListScopes {}

impl ListScopes {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let connection = context.connect()?;
        let reply = connection
            .client
            .list_scopes()
            .await
            .map_err(|error| connection.explain(error))?;
        print_reply(context, &reply.raw, || {
            let mut table = Table::new(&["Scope", "Backend", "KeyVault URL"]);
            for scope in reply.data.scopes {
                let key_vault_url = scope.keyvault_metadata.map(|metadata| metadata.dns_name);
                table.row(vec![
                    truncate_name(&scope.name, 100),
                    scope
                        .backend_type
                        .unwrap_or_else(|| "DATABRICKS".to_string()),
                    key_vault_url.unwrap_or_else(|| "N/A".to_string()),
                ]);
            }
            table
        })
    }
}

#[derive(Args, Debug)]
pub struct DeleteScope {
    #[command(flatten)]
    scope: ScopeName,
}

impl DeleteScope {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let scope = self.scope.resolve()?;
        let connection = context.connect()?;
        connection
            .client
            .delete_scope(&scope)
            .await
            .map_err(|error| connection.explain(error))
    }
}
