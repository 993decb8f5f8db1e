//! create-scope, list-scopes, delete-scope.

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{
    JsonBody, JsonRequest, Limit, Listing, ScopeName, check_scope_name,
    from_options_or_positionals, is_blank, print_listing,
};
use crate::api::{self, ScopeBackend, ScopeInfo};
use crate::cli::{Context, usage_error};
use crate::output::{GoTable, Table, truncate_name};

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

    #[command(flatten)]
    json: JsonRequest,
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
        let if_not_exists = self.if_not_exists;
        let request = self.request()?;
        check_scope_name(&request.scope)?;
        if request
            .initial_manage_principal
            .as_deref()
            .is_some_and(is_blank)
        {
            return Err(usage_error(
                "the initial manage principal is empty or blank: give a principal (the service \
                 accepts only `users`), or leave it out to get MANAGE yourself",
            ));
        }
        let connection = context.connect()?;
        match connection.client.create_scope(&request).await {
            Err(error)
                if if_not_exists && error.error_code() == Some("RESOURCE_ALREADY_EXISTS") =>
            {
                Ok(())
            }
            result => result.map_err(|error| connection.explain(error)),
        }
    }

    /// The request from `--json`, or from the options and the argument.
    fn request(self) -> anyhow::Result<api::CreateScope> {
        let options = [
            ("scope", self.scope.is_some()),
            (
                "initial-manage-principal",
                self.initial_manage_principal.is_some(),
            ),
            ("scope-backend-type", self.scope_backend_type.is_some()),
            ("resource-id", self.resource_id.is_some()),
            ("dns-name", self.dns_name.is_some()),
        ];
        if let Some(body) = self
            .json
            .body("'scope'", &[&self.scope_argument], &options)?
        {
            return request_from_json(body);
        }
        let backend = self.backend()?;
        let [scope] = from_options_or_positionals(["scope"], [self.scope], [self.scope_argument])?;
        Ok(api::CreateScope {
            scope,
            initial_manage_principal: self.initial_manage_principal,
            backend,
        })
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

/// A create-scope request in the Go CLI's JSON: `scope`, `initial_manage_principal`,
/// `scope_backend_type` and, for a Key Vault, `backend_azure_keyvault` with `resource_id` and
/// `dns_name`.
fn request_from_json(mut body: JsonBody) -> anyhow::Result<api::CreateScope> {
    let scope = body.required("scope")?;
    let initial_manage_principal = body.string("initial_manage_principal")?;
    let backend_type = body
        .string("scope_backend_type")?
        .map(|name| {
            BackendType::from_str(&name, true).map_err(|_| {
                usage_error(format!(
                    "\"scope_backend_type\" in the --json input must be DATABRICKS or \
                     AZURE_KEYVAULT, got '{name}'"
                ))
            })
        })
        .transpose()?;
    let key_vault = match body.object("backend_azure_keyvault")? {
        Some(mut vault) => {
            let metadata = (vault.required("resource_id")?, vault.required("dns_name")?);
            vault.warn_unknown();
            Some(metadata)
        }
        None => None,
    };
    body.warn_unknown();
    let backend = match (backend_type, key_vault) {
        (Some(BackendType::AzureKeyvault), Some((resource_id, dns_name))) => {
            ScopeBackend::AzureKeyVault {
                resource_id,
                dns_name,
            }
        }
        (Some(BackendType::Databricks), None) => ScopeBackend::Databricks,
        (None, None) => ScopeBackend::ServiceDefault,
        (Some(BackendType::AzureKeyvault), None) => {
            return Err(usage_error(
                "\"scope_backend_type\": \"AZURE_KEYVAULT\" needs \"backend_azure_keyvault\" \
                 with \"resource_id\" and \"dns_name\" in the --json input",
            ));
        }
        (_, Some(_)) => {
            return Err(usage_error(
                "\"backend_azure_keyvault\" is only for Azure Key Vault-backed scopes: add \
                 \"scope_backend_type\": \"AZURE_KEYVAULT\" to the --json input",
            ));
        }
    };
    Ok(api::CreateScope {
        scope,
        initial_manage_principal,
        backend,
    })
}

#[derive(Args, Debug)]
pub struct ListScopes {
    #[command(flatten)]
    limit: Limit,
}

/// A scope as the Go CLI prints it: its fields in its order, empty ones left out.
#[derive(Serialize)]
struct GoScope<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    backend_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keyvault_metadata: Option<GoKeyVault<'a>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
}

#[derive(Serialize)]
struct GoKeyVault<'a> {
    dns_name: &'a str,
    resource_id: &'a str,
}

impl<'a> From<&'a ScopeInfo> for GoScope<'a> {
    fn from(scope: &'a ScopeInfo) -> Self {
        GoScope {
            backend_type: scope.backend_type.as_deref().unwrap_or_default(),
            keyvault_metadata: scope.keyvault_metadata.as_ref().map(|metadata| GoKeyVault {
                dns_name: &metadata.dns_name,
                resource_id: &metadata.resource_id,
            }),
            name: &scope.name,
        }
    }
}

impl ListScopes {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let connection = context.connect()?;
        let mut reply = connection.call(connection.client.list_scopes()).await?;
        let scopes = &mut reply.data.scopes;
        self.limit.apply(scopes, &mut reply.raw, "scopes");
        print_listing(
            context,
            Listing {
                raw: &reply.raw,
                go_items: &scopes.iter().map(GoScope::from).collect::<Vec<_>>(),
                legacy_table: legacy_table(scopes),
                go_text: Some(go_text(scopes)),
            },
        )
    }
}

fn legacy_table(scopes: &[ScopeInfo]) -> Table {
    let mut table = Table::new(&["Scope", "Backend", "KeyVault URL"]);
    for scope in scopes {
        let key_vault_url = scope
            .keyvault_metadata
            .as_ref()
            .map(|metadata| &metadata.dns_name);
        table.row(vec![
            truncate_name(&scope.name, 100),
            scope
                .backend_type
                .as_deref()
                .unwrap_or("DATABRICKS")
                .to_string(),
            key_vault_url.map_or("N/A", String::as_str).to_string(),
        ]);
    }
    table
}

fn go_text(scopes: &[ScopeInfo]) -> GoTable {
    let mut table = GoTable::new(&["Scope", "Backend Type"]);
    for scope in scopes {
        let backend_type = scope.backend_type.clone().unwrap_or_default();
        table.row(vec![scope.name.clone(), backend_type]);
    }
    table
}

#[derive(Args, Debug)]
pub struct DeleteScope {
    #[command(flatten)]
    scope: ScopeName,

    #[command(flatten)]
    json: JsonRequest,
}

impl DeleteScope {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let scope = self.scope.resolve_with(&self.json)?;
        let connection = context.connect()?;
        connection
            .call(connection.client.delete_scope(&scope))
            .await
    }
}
