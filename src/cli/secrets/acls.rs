//! put-acl, get-acl, list-acls, delete-acl: who may do what in a scope.

use clap::Args;
use serde::Serialize;

use super::{
    JsonRequest, Limit, Listing, ScopeName, from_json_or_arguments, from_options_or_positionals,
    print_listing,
};
use crate::api::{AclItem, Permission};
use crate::cli::{Context, usage_error};
use crate::output::{self, Dialect, Format, Table};

#[derive(Args, Debug)]
pub struct PutAcl {
    /// Scope the rule applies to
    #[arg(long)]
    scope: Option<String>,

    /// User name, group name or service principal application ID
    #[arg(long)]
    principal: Option<String>,

    /// READ, WRITE or MANAGE (any case); each level includes the ones before it
    #[arg(long)]
    permission: Option<String>,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,

    /// The principal, instead of --principal
    #[arg(value_name = "PRINCIPAL")]
    principal_argument: Option<String>,

    /// The permission, instead of --permission
    #[arg(value_name = "PERMISSION")]
    permission_argument: Option<String>,

    #[command(flatten)]
    json: JsonRequest,
}

impl PutAcl {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, principal, permission] = from_json_or_arguments(
            &self.json,
            ["scope", "principal", "permission"],
            [self.scope, self.principal, self.permission],
            [
                self.scope_argument,
                self.principal_argument,
                self.permission_argument,
            ],
        )?;
        let permission: Permission = permission.parse().map_err(|_| {
            usage_error(format!(
                "invalid permission '{permission}': use READ, WRITE or MANAGE"
            ))
        })?;
        let connection = context.connect()?;
        connection
            .call(connection.client.put_acl(&scope, &principal, permission))
            .await
    }
}

/// `--scope S --principal P`, or `S P` positionally.
#[derive(Args, Debug)]
struct AclAddress {
    /// Scope of the rule
    #[arg(long)]
    scope: Option<String>,

    /// Principal of the rule
    #[arg(long)]
    principal: Option<String>,

    /// The scope, instead of --scope
    #[arg(value_name = "SCOPE")]
    scope_argument: Option<String>,

    /// The principal, instead of --principal
    #[arg(value_name = "PRINCIPAL")]
    principal_argument: Option<String>,
}

impl AclAddress {
    fn resolve(self) -> anyhow::Result<[String; 2]> {
        from_options_or_positionals(
            ["scope", "principal"],
            [self.scope, self.principal],
            [self.scope_argument, self.principal_argument],
        )
    }

    /// The scope and principal from the `--json` body when given, else from options or
    /// arguments.
    fn resolve_with(self, json: &JsonRequest) -> anyhow::Result<[String; 2]> {
        from_json_or_arguments(
            json,
            ["scope", "principal"],
            [self.scope, self.principal],
            [self.scope_argument, self.principal_argument],
        )
    }
}

/// An access rule as the Go CLI prints it, in its field order.
#[derive(Serialize)]
struct GoAclItem<'a> {
    permission: &'a str,
    principal: &'a str,
}

impl<'a> From<&'a AclItem> for GoAclItem<'a> {
    fn from(item: &'a AclItem) -> Self {
        GoAclItem {
            permission: &item.permission,
            principal: &item.principal,
        }
    }
}

#[derive(Args, Debug)]
pub struct GetAcl {
    #[command(flatten)]
    address: AclAddress,
}

impl GetAcl {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, principal] = self.address.resolve()?;
        let connection = context.connect()?;
        let reply = connection
            .call(connection.client.get_acl(&scope, &principal))
            .await?;
        let style = context.style()?;
        match (style.dialect, style.format) {
            // The Go CLI has no text layout for a rule: JSON in both formats.
            (Dialect::Go, _) => output::print_go_json(&GoAclItem::from(&reply.data))?,
            (Dialect::Legacy, Format::Json) => output::print_json(&reply.raw)?,
            (Dialect::Legacy, Format::Table) => {
                acl_table(std::slice::from_ref(&reply.data)).print()?
            }
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct ListAcls {
    #[command(flatten)]
    scope: ScopeName,

    #[command(flatten)]
    limit: Limit,
}

impl ListAcls {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let scope = self.scope.resolve()?;
        let connection = context.connect()?;
        let mut reply = connection.call(connection.client.list_acls(&scope)).await?;
        let items = &mut reply.data.items;
        self.limit.apply(items, &mut reply.raw, "items");
        print_listing(
            context,
            Listing {
                raw: &reply.raw,
                go_items: &items.iter().map(GoAclItem::from).collect::<Vec<_>>(),
                legacy_table: acl_table(items),
                // The Go CLI has no text layout for rules: JSON in both formats.
                go_text: None,
            },
        )
    }
}

fn acl_table(items: &[AclItem]) -> Table {
    let mut table = Table::new(&["Principal", "Permission"]);
    for item in items {
        table.row(vec![item.principal.clone(), item.permission.to_uppercase()]);
    }
    table
}

#[derive(Args, Debug)]
pub struct DeleteAcl {
    #[command(flatten)]
    address: AclAddress,

    #[command(flatten)]
    json: JsonRequest,
}

impl DeleteAcl {
    pub async fn run(self, context: &Context) -> anyhow::Result<()> {
        let [scope, principal] = self.address.resolve_with(&self.json)?;
        let connection = context.connect()?;
        connection
            .call(connection.client.delete_acl(&scope, &principal))
            .await
    }
}
